"""Centralino licensing service."""
