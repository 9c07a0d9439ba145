"""GET /codelists and /codelists/{name}: the versioned national code lists a pathway's coded
fields use (delay reasons, destinations, criteria to reside, UK Core displays).

Every signed-in person may read them (the `pathways.read` grant: code lists are part of the
pathway definitions, and hold no patient data). Each list says where it comes from and whether
its labels are the published strings, so a reader can tell a national string from HomeFirst's
wording of a topic still to be transcribed.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from app.auth.needs import needs
from app.codelists.loader import CodeSet, CodeSetNotFound
from app.deps import CodesDep, CurrentActor
from app.errors import NotFound
from app.timeutil import london_date, utcnow

router = APIRouter(prefix="/codelists", tags=["codelists"])
READ = [needs("pathways.read")]
NAME_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"

Status = Literal["verified", "provisional", "placeholder"]
Verbatim = Literal["all", "partly", "none"]


class CodeListVersion(BaseModel):
    version: str
    title: str
    source: str
    valid_from: date = Field(description="First day in force (a collection's first day)")
    valid_to: date | None = Field(description="First day no longer in force; null while current")
    published: date | None = Field(description="Publication date, when not the first day")
    status: Status = Field(
        description="verified; provisional (UNVERIFIED, see notes); placeholder (a published "
        "version still to be transcribed: no codes, never in force)"
    )
    verbatim: Verbatim = Field(description="Whether the labels are the published strings")
    code_count: int = Field(description="How many codes the version has")


class CodeListSummary(BaseModel):
    name: str
    title: str = Field(description="The title of the newest version in force or to come")
    source: str
    current_version: str | None = Field(description="The version in force today (London date)")
    versions: list[CodeListVersion]


class CodeView(BaseModel):
    code: str
    label: str
    verbatim: bool = Field(description="True: the published string; false: HomeFirst's wording")
    family: str | None
    note: str | None


class CodeListDetail(CodeListVersion):
    name: str
    on: date = Field(description="The date asked about: this version was in force on it")
    system: str | None = Field(description="Code system URI, for codes sent in FHIR")
    notes: str | None
    codes: list[CodeView]


def _version(codeset: CodeSet) -> CodeListVersion:
    return CodeListVersion(
        version=codeset.version,
        title=codeset.title,
        source=codeset.source,
        valid_from=codeset.valid_from,
        valid_to=codeset.valid_to,
        published=codeset.published,
        status=codeset.status,
        verbatim=codeset.verbatim,
        code_count=len(codeset.codes),
    )


@router.get("", response_model=list[CodeListSummary], dependencies=READ)
def list_codelists(_actor: CurrentActor, codes: CodesDep) -> list[CodeListSummary]:
    """Every code list with each of its versions: validity, source and verbatim status."""
    today = london_date(utcnow())
    out = []
    for name in codes.keys():
        versions = codes.versions(name)
        try:
            current: CodeSet | None = codes.current(name, today)
        except CodeSetNotFound:
            current = None
        newest = current or versions[-1]
        out.append(
            CodeListSummary(
                name=name,
                title=newest.title,
                source=newest.source,
                current_version=current.version if current else None,
                versions=[_version(v) for v in versions],
            )
        )
    return out


@router.get(
    "/{name}",
    response_model=CodeListDetail,
    dependencies=READ,
)
def get_codelist(
    name: Annotated[str, Path(max_length=100, description="A code list, e.g. delay-reasons-acute")],
    _actor: CurrentActor,
    codes: CodesDep,
    on: Annotated[
        date | None, Query(description="The list in force on this London date; today if omitted")
    ] = None,
) -> CodeListDetail:
    """The version in force on `on`: its codes and labels, which labels are verbatim, its
    validity and source. 404 for an unknown list or when no version was in force that day."""
    day = on or london_date(utcnow())
    try:
        codeset = codes.current(name, day)
    except CodeSetNotFound as exc:
        raise NotFound(str(exc), codelist=name[:100], on=day.isoformat()) from None
    return CodeListDetail(
        **_version(codeset).model_dump(),
        name=codeset.key,
        on=day,
        system=codeset.system,
        notes=codeset.notes,
        codes=[
            CodeView(code=e.code, label=e.label, verbatim=e.verbatim, family=e.family, note=e.note)
            for e in codeset.codes
        ],
    )
