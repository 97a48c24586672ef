"""Alembic migrations of the mailadmin database (run through ``mailadmin.store.Database``)."""
