"""Centralino shared library: what several services use, written once."""

__version__ = "0.1.0"
