"""Centralino media service."""
