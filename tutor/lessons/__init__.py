"""Lessons: parse markdown lesson files and find them (the catalog)."""
from .catalog import Catalog, load_catalog
from .model import Lesson, Problem, Step
from .parse import parse_lesson

__all__ = ["Catalog", "Lesson", "Problem", "Step", "load_catalog", "parse_lesson"]
