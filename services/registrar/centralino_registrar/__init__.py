"""Centralino registrar service."""
