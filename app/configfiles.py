"""The one loader for the workflows' configuration files (`pathways/config/*.yaml`).

Every file is YAML validated by a pydantic model; a problem names the file and the field. A
workflow declares which files it reads (its `Workflow.config`); `homefirst pathways check` and
the application's start load them all, so a bad file stops the service before it serves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class ConfigFileError(ValueError):
    """A configuration file is missing (when required), not YAML, or not valid."""


def load_config(
    directory: Path,
    name: str,
    model: type[M],
    *,
    required: bool = True,
    error: type[ConfigFileError] = ConfigFileError,
) -> M:
    """`directory/name` validated as `model`; its defaults when the file is absent and not
    `required`."""
    path = directory / name
    try:
        raw: Any = yaml.safe_load(path.read_bytes())
    except FileNotFoundError:
        if not required:
            return model()
        raise error(f"{path}: configuration file not found") from None
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML: {exc}") from exc
    try:
        return model.model_validate(raw or {})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()
        )
        raise error(f"{path}: {problems}") from exc
