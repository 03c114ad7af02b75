"""Centralino router service."""
