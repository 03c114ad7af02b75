"""PostgreSQL helpers shared by the services that own tables (config-api, licensing)."""

from centralino.db.migrations import MigrationError, apply_migrations

__all__ = ["MigrationError", "apply_migrations"]
