"""GET /pathways, /pathways/{key} and /pathways/{key}/diagram."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

from app.auth.needs import needs
from app.deps import CurrentActor, EngineDep
from app.engine.catalogue import LoadedPathway
from app.engine.diagrams import mermaid
from app.errors import NotFound

router = APIRouter(prefix="/pathways", tags=["pathways"])
READ = [needs("pathways.read")]


class PathwaySummary(BaseModel):
    key: str
    version: int
    title: str
    versions: list[int]
    sha256: str


class PathwayDetail(PathwaySummary):
    definition: dict[str, Any]


def _find(engine: EngineDep, key: str, version: int | None) -> LoadedPathway:
    found = engine.catalogue.get(key, version) if version else engine.catalogue.latest(key)
    if found is None:
        raise NotFound(f"no pathway {key!r}" + (f" version {version}" if version else ""))
    return found


def _summary(engine: EngineDep, p: LoadedPathway) -> dict[str, Any]:
    return {
        "key": p.spec.key,
        "version": p.spec.version,
        "title": p.spec.title,
        "versions": engine.catalogue.versions(p.spec.key),
        "sha256": p.sha256,
    }


@router.get("", response_model=list[PathwaySummary], dependencies=READ)
def list_pathways(_actor: CurrentActor, engine: EngineDep) -> list[PathwaySummary]:
    """The latest version of each pathway."""
    return [
        PathwaySummary(**_summary(engine, p))
        for key in engine.catalogue.keys()
        if (p := engine.catalogue.latest(key))
    ]


@router.get("/{key}", response_model=PathwayDetail, dependencies=READ)
def get_pathway(
    key: str,
    _actor: CurrentActor,
    engine: EngineDep,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> PathwayDetail:
    """The full definition: states, transitions with roles, guards and data, clocks."""
    p = _find(engine, key, version)
    return PathwayDetail(**_summary(engine, p), definition=p.spec.model_dump(mode="json"))


@router.get("/{key}/diagram", response_class=PlainTextResponse, dependencies=READ)
def get_diagram(
    key: str,
    _actor: CurrentActor,
    engine: EngineDep,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> str:
    """Mermaid `stateDiagram-v2` text for the pathway."""
    return mermaid(_find(engine, key, version).spec)
