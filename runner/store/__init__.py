"""Learners' progress per exercise (SQLAlchemy 2 async, Alembic migrations run at start-up)."""

from __future__ import annotations

from runner.store.store import ExerciseProgress, ProgressStore, StoreError

__all__ = ["ExerciseProgress", "ProgressStore", "StoreError"]
