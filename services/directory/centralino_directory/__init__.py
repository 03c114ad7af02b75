"""Centralino directory service."""
