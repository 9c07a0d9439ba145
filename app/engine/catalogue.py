"""Every loaded pathway version, its machine and its content hash."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from transitions import Machine

from app.engine.loader import PathwayError, load_file, pathway_files
from app.engine.machine import build_machine
from app.engine.registry import RuleRegistry
from app.engine.spec import PathwaySpec


@dataclass(frozen=True)
class LoadedPathway:
    spec: PathwaySpec
    machine: Machine
    source: Path
    sha256: str


class PathwayCatalogue:
    def __init__(self, pathways: list[LoadedPathway], rules: RuleRegistry) -> None:
        self.rules = rules
        self._by_version = {(p.spec.key, p.spec.version): p for p in pathways}
        self._latest: dict[str, LoadedPathway] = {}
        for p in pathways:
            current = self._latest.get(p.spec.key)
            if current is None or p.spec.version > current.spec.version:
                self._latest[p.spec.key] = p

    @classmethod
    def from_directory(cls, directory: Path, rules: RuleRegistry) -> PathwayCatalogue:
        if not directory.is_dir():
            raise PathwayError(directory, ["pathways directory not found"])
        loaded: list[LoadedPathway] = []
        seen: dict[tuple[str, int], Path] = {}
        for path in pathway_files(directory):
            spec, digest = load_file(path, rules)
            ident = (spec.key, spec.version)
            if ident in seen:
                raise PathwayError(
                    path,
                    [f"duplicate key {spec.key!r} version {spec.version}, also in {seen[ident]}"],
                )
            seen[ident] = path
            loaded.append(LoadedPathway(spec, build_machine(spec, rules), path, digest))
        return cls(loaded, rules)

    def keys(self) -> list[str]:
        return sorted(self._latest)

    def latest(self, key: str) -> LoadedPathway | None:
        return self._latest.get(key)

    def get(self, key: str, version: int) -> LoadedPathway | None:
        return self._by_version.get((key, version))

    def versions(self, key: str) -> list[int]:
        return sorted(v for k, v in self._by_version if k == key)

    def all(self) -> list[LoadedPathway]:
        return [self._by_version[k] for k in sorted(self._by_version)]
