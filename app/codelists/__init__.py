"""Versioned national code lists (delay reasons, destinations) loaded from pathways/codelists."""

from app.codelists.loader import (
    DEFAULT_CODELIST_DIR,
    CodeEntry,
    CodeListError,
    CodeSet,
    CodeSetNotFound,
    CodeSetRegistry,
    load_codesets,
)

__all__ = [
    "DEFAULT_CODELIST_DIR",
    "CodeEntry",
    "CodeListError",
    "CodeSet",
    "CodeSetNotFound",
    "CodeSetRegistry",
    "load_codesets",
]
