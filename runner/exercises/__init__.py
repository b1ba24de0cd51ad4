"""Exercise specs (domain): the models, loading a course folder with every problem found, limits."""

from __future__ import annotations

from runner.exercises.errors import ExerciseError, SpecError
from runner.exercises.limits import limits_for, run_time_s
from runner.exercises.loader import COURSE_FILE, load_catalog, load_course, spec_paths
from runner.exercises.models import (
    DEFAULT_TOLERANCE,
    Catalog,
    CompareMode,
    Course,
    Exercise,
    TestCase,
    Week,
)
from runner.exercises.spec import load_spec

__all__ = [
    "COURSE_FILE",
    "DEFAULT_TOLERANCE",
    "Catalog",
    "CompareMode",
    "Course",
    "Exercise",
    "ExerciseError",
    "SpecError",
    "TestCase",
    "Week",
    "limits_for",
    "load_catalog",
    "load_course",
    "load_spec",
    "run_time_s",
    "spec_paths",
]
