"""Cross-cutting concerns of every update: errors, DB session, throttling, tenant, roles."""
