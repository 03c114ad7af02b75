"""Centralino config-api service."""
