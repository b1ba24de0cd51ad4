"""Alembic migrations of the progress store (run by ``ProgressStore.migrate``)."""
