"""The service as the image installs it (issue 18, item 5): from its wheel, not editable.

The project's wheel is built from a copy of its sources (`pip wheel`, isolated, as the image's
build stage does) and installed without its dependencies into a directory of its own, which
comes first on the path (the dependencies are this environment's, installed from the same
lock). Then, from a directory holding only alembic.ini, migrations/ and pathways/ (the image's
WORKDIR), `homefirst db upgrade` migrates a new SQLite file and `homefirst serve --demo` serves
it: `/healthz` and `/readyz` answer, and a demo token reads the pathways. Nothing of the source
checkout is on the path, so anything the package still looked for beside itself would fail here.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.servers import PROJECT_ROOT, running_service


def _run(args: list[str], *, cwd: Path, env: dict[str, str], timeout: float = 180) -> str:
    done = subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """(the directory to run in, the environment that imports the installed wheel)."""
    tmp = tmp_path_factory.mktemp("wheel")
    sources = tmp / "sources"
    sources.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(PROJECT_ROOT / name, sources / name)
    no_caches = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(PROJECT_ROOT / "app", sources / "app", ignore=no_caches)
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HOMEFIRST_ROOT")}
    pip = ["-m", "pip", "--disable-pip-version-check"]
    _run(
        [*pip, "wheel", "-q", "--no-deps", str(sources), "-w", str(tmp / "dist")],
        cwd=tmp,
        env=clean,
    )
    (wheel,) = (tmp / "dist").glob("homefirst-*.whl")
    site = tmp / "site"
    _run(
        [*pip, "install", "-q", "--no-deps", "--target", str(site), str(wheel)], cwd=tmp, env=clean
    )
    root = tmp / "srv"
    root.mkdir()
    shutil.copy(PROJECT_ROOT / "alembic.ini", root / "alembic.ini")
    for name in ("migrations", "pathways"):
        shutil.copytree(PROJECT_ROOT / name, root / name, ignore=no_caches)
    env = {**clean, "PYTHONPATH": str(site), "DATABASE_URL": f"sqlite:///{tmp / 'hf.db'}"}
    return root, env


def test_the_installed_wheel_migrates_and_serves_from_its_directory(
    installed: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    root, env = installed
    imported = _run(["-c", "import app; print(app.__file__)"], cwd=root, env=env)
    assert Path(imported.strip()).is_relative_to(Path(env["PYTHONPATH"])), imported
    assert "database at head" in _run(["-m", "app.cli", "db", "upgrade"], cwd=root, env=env)
    command = ("-m", "app.cli", "serve", "--host", "127.0.0.1", "--demo")
    log = tmp_path / "serve.log"
    with running_service(env["DATABASE_URL"], env=env, command=command, log=log, cwd=root) as web:
        assert httpx.get(f"{web.url}/healthz").json() == {"status": "ok"}
        ready = httpx.get(f"{web.url}/readyz")
        assert ready.status_code == 200, ready.text
        token = re.search(r"demo token \(user [^)]+\): (\S+)", web.log_text())
        assert token, web.log_text()[-3000:]
        pathways = httpx.get(
            f"{web.url}/api/v1/pathways", headers={"Authorization": f"Bearer {token[1]}"}
        )
        assert pathways.status_code == 200, pathways.text
        assert {"discharge", "chc"} <= {p["key"] for p in pathways.json()}


def test_without_its_files_the_installed_wheel_says_where_it_looked(
    installed: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    _, env = installed
    done = subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "app.cli", "db", "upgrade"],
        cwd=tmp_path,  # nothing here
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert f"{tmp_path / 'alembic.ini'} not found" in done.stderr
    assert "HOMEFIRST_ROOT" in done.stderr
