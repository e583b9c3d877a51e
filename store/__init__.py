"""Persistence: models, the database engine, tenant-scoped repositories, key encryption."""
