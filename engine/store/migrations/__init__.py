"""The alembic migration scripts of the store; run them with `pathwarden db upgrade`."""
