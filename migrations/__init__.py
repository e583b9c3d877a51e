"""Alembic migrations; `migrations.runner` applies them from code and the CLI."""
