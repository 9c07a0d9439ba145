"""The engine's code check, answered from the versioned code lists."""

from __future__ import annotations

from datetime import date

from app.codelists.loader import CodeSetNotFound, CodeSetRegistry
from app.engine.fields import CodeCheck


def code_checker(registry: CodeSetRegistry) -> CodeCheck:
    def check(key: str, code: str, on: date) -> str | None:
        try:
            codeset = registry.current(key, on)
        except CodeSetNotFound:
            return None
        return codeset.version if codeset.get(code) is not None else None

    return check
