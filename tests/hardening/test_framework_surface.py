"""The service uses FastAPI and Starlette through their public surface only.

Private names (a leading underscore: `fastapi.routing._effective_route_context_var`), private
modules (`fastapi._compat`) and FastAPI's dependency internals (`fastapi.dependencies`: the
`Dependant` tree, `ModelField`) change between releases without notice. What the service needs
from a route it reads through public APIs instead (the OpenAPI description, `iter_route_contexts`,
a route class's `get_route_handler`).
"""

from __future__ import annotations

import ast
from pathlib import Path

import app

FRAMEWORKS = ("fastapi", "starlette")
INTERNAL_MODULES = ("fastapi.dependencies",)
INTERNAL_ATTRIBUTES = {"dependant", "body_field"}  # the route's dependency internals


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _framework(module: str) -> bool:
    return module.split(".")[0] in FRAMEWORKS


def _problems(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    modules: set[str] = set()  # local names bound to framework modules
    out: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _framework(alias.name):
                    modules.add((alias.asname or alias.name).split(".")[0])
                    if any(map(_private, alias.name.split("."))):
                        out.append(f"{node.lineno}: import {alias.name}")
                    if alias.name.startswith(INTERNAL_MODULES):
                        out.append(f"{node.lineno}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.module and _framework(node.module):
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            if any(
                any(map(_private, name.split("."))) or name.startswith(INTERNAL_MODULES)
                for name in names
            ):
                out.append(f"{node.lineno}: from {node.module} import ...")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            base = node.value
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name) and base.id in modules and _private(node.attr):
                out.append(f"{node.lineno}: .{node.attr}")
            if node.attr in INTERNAL_ATTRIBUTES:
                out.append(f"{node.lineno}: .{node.attr}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "hasattr")
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and (_private(node.args[1].value) or node.args[1].value in INTERNAL_ATTRIBUTES)
        ):
            out.append(f"{node.lineno}: {node.func.id}(..., {node.args[1].value!r})")
    return out


def test_no_private_framework_names_in_the_service() -> None:
    root = Path(app.__file__).parent
    found = {
        str(path.relative_to(root.parent)): problems
        for path in sorted(root.rglob("*.py"))
        if (problems := _problems(path))
    }
    assert found == {}


def test_the_guard_sees_what_it_looks_for(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import fastapi.routing\n"
        "from fastapi.routing import _effective_route_context_var\n"
        "from fastapi._compat import ModelField\n"
        "from fastapi.dependencies.models import Dependant\n"
        "var = fastapi.routing._effective_route_context_var\n"
        "other = getattr(fastapi.routing, '_effective_route_context_var', None)\n"
        "def spec(route):\n"
        "    return route.dependant, route.body_field\n"
    )
    assert [line.split(":")[0] for line in _problems(sample)] == [
        "2",
        "3",
        "4",
        "5",
        "6",
        "8",
        "8",
    ]
