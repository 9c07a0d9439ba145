"""Load and query versioned code lists (docs/domain.md §5.5, ARCHITECTURE.md §1 principle 8).

A code list is a YAML file with a ``key``, a ``version`` and a validity window
``[valid_from, valid_to)``; ``valid_to`` is exclusive and ``null`` while the list is current.
Several files may share a key (the 2022 and 2024 acute delay lists are two versions of
``delay-reasons-acute``); their windows must not overlap, so exactly one version answers for
any date. Records store the code *and* the version in force, and history is never rewritten
when a list changes (§5.5), hence :meth:`CodeSetRegistry.version` next to ``current``.

``status: provisional`` marks lists that docs/domain.md §13 calls UNVERIFIED. They load and can be
looked up, but callers building a national return should check :attr:`CodeSet.is_provisional`.

``status: placeholder`` names a published version whose text is still to be transcribed (the 2024
Annex D criteria to reside). It has no codes and never answers a date lookup: it is listed so the
gap is visible, and the previous version stays in use until the real text replaces it.

``valid_from`` is the first day the list is *used* (a collection's start), which is not always the
day its specification was published: the 2024 acute delay list was published on 30 April 2024
and collected from 27 May 2024. ``published`` keeps the publication date apart.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictStr,
    ValidationError,
    model_validator,
)

DEFAULT_CODELIST_DIR = Path(__file__).resolve().parents[2] / "pathways" / "codelists"


class CodeListError(ValueError):
    """A code-list file (or set of files) is malformed; the message names the file."""


class CodeSetNotFound(LookupError):
    """No code list answers the question (unknown key, unknown version, no list on that date)."""


class CodeEntry(BaseModel):
    """One code. ``label`` is the exact published string, so it is never trimmed or retyped."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: StrictStr = Field(min_length=1)
    label: StrictStr = Field(min_length=1)
    family: StrictStr | None = None
    support_area: StrictStr | None = None
    # False where only the topic is known and the label is HomeFirst's wording until the exact
    # national string is transcribed (docs/domain.md §13 U5). A national return must flag these.
    verbatim: bool = True
    # Why this entry's wording is what it is, where that is not obvious (an inferred prefix, an
    # assumed Interface twin, a disputed transcription).
    note: StrictStr | None = None


class CodeSet(BaseModel):
    """One version of one code list, exactly as read from its file."""

    # StrictStr keeps YAML from coercing: an unquoted ``version: 2022`` or ``code: 19`` is an
    # int and is refused, rather than silently becoming "2022" here and 2022 somewhere else.
    model_config = ConfigDict(frozen=True, extra="forbid")

    key: StrictStr = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    version: StrictStr = Field(min_length=1)
    title: StrictStr = Field(min_length=1)
    source: StrictStr = Field(min_length=1)
    valid_from: date
    valid_to: date | None = None
    # The specification's publication date, when it differs from the first day of use.
    published: date | None = None
    # The code system URI, for lists whose codes are sent in a FHIR Coding (UK Core).
    system: StrictStr | None = None
    status: Literal["verified", "provisional", "placeholder"]
    notes: StrictStr | None = None
    codes: tuple[CodeEntry, ...] = ()

    _by_code: dict[str, CodeEntry] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _check_contents(self) -> CodeSet:
        if self.valid_to is not None and self.valid_to <= self.valid_from:
            raise ValueError(
                f"valid_from {self.valid_from} must be before valid_to {self.valid_to}"
            )
        if self.status == "placeholder":
            if self.codes:
                raise ValueError("a placeholder list has no codes (it is still to be transcribed)")
            if not self.notes:
                raise ValueError("a placeholder list needs notes saying what is to be transcribed")
        elif not self.codes:
            raise ValueError("codes: a list needs at least one code")
        _require_unique("code", [entry.code for entry in self.codes])
        _require_unique("label", [entry.label for entry in self.codes])
        for entry in self.codes:
            # National strings never start or end with whitespace; if one does here, it was
            # mangled in transcription and would no longer match the published file.
            if entry.label != entry.label.strip():
                raise ValueError(f"label of code {entry.code!r} has surrounding whitespace")
        return self

    def model_post_init(self, _context: object, /) -> None:
        self._by_code = {entry.code: entry for entry in self.codes}

    @property
    def is_provisional(self) -> bool:
        return self.status == "provisional"

    @property
    def is_placeholder(self) -> bool:
        return self.status == "placeholder"

    @property
    def verbatim(self) -> Literal["all", "partly", "none"]:
        """Whether the labels are the published strings: all of them, some, or none."""
        exact = sum(1 for entry in self.codes if entry.verbatim)
        if self.codes and exact == len(self.codes):
            return "all"
        return "partly" if exact else "none"

    def is_valid_on(self, on: date) -> bool:
        """In force on ``on``. A placeholder is never in force: it has no codes to answer with."""
        if self.is_placeholder:
            return False
        return self.valid_from <= on and (self.valid_to is None or on < self.valid_to)

    def get(self, code: str) -> CodeEntry | None:
        return self._by_code.get(code)

    def by_label(self, label: str) -> CodeEntry | None:
        """Find a code by its exact published label (imports often carry only the label)."""
        return next((entry for entry in self.codes if entry.label == label), None)


def _require_unique(what: str, values: Sequence[str]) -> None:
    duplicates = sorted(value for value, count in Counter(values).items() if count > 1)
    if duplicates:
        raise ValueError(f"duplicate {what}(s): {', '.join(repr(d) for d in duplicates)}")


def _describe_validation_error(error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_url=False):
        location = ".".join(str(part) for part in item["loc"]) or "(file)"
        parts.append(f"{location}: {item['msg']}")
    return "; ".join(parts)


def _load_file(path: Path) -> CodeSet:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise CodeListError(f"{path}: cannot read code list: {exc}") from exc
    if not isinstance(data, dict):
        raise CodeListError(f"{path}: expected a mapping at the top level")
    try:
        return CodeSet.model_validate(data)
    except ValidationError as exc:
        raise CodeListError(f"{path}: {_describe_validation_error(exc)}") from exc


def _check_versions(key: str, versions: Sequence[tuple[CodeSet, str]]) -> list[CodeSet]:
    """Sort one key's versions by date and refuse duplicates and overlaps.

    ``versions`` pairs each set with where it came from, for the error message.
    """
    ordered = sorted(versions, key=lambda pair: pair[0].valid_from)
    seen: dict[str, str] = {}
    for codeset, origin in ordered:
        if codeset.version in seen:
            raise CodeListError(
                f"{origin}: {key} version {codeset.version!r} is also defined in "
                f"{seen[codeset.version]}"
            )
        seen[codeset.version] = origin
    # A placeholder never answers a lookup, so it cannot overlap the version still in use.
    in_use = [pair for pair in ordered if not pair[0].is_placeholder]
    for (earlier, earlier_origin), (later, later_origin) in zip(in_use, in_use[1:], strict=False):
        if earlier.valid_to is None or earlier.valid_to > later.valid_from:
            ends = "has no valid_to" if earlier.valid_to is None else f"runs to {earlier.valid_to}"
            raise CodeListError(
                f"{later_origin}: {key} version {later.version!r} from {later.valid_from} "
                f"overlaps version {earlier.version!r} in {earlier_origin}, which {ends}"
            )
    return [codeset for codeset, _ in ordered]


def load_codesets(directory: Path) -> dict[str, list[CodeSet]]:
    """Load every ``*.yaml`` / ``*.yml`` file in ``directory``, grouped by key, oldest first.

    Raises :class:`CodeListError` naming the file and the problem for unreadable YAML, schema
    errors, duplicate codes or labels, ``valid_from >= valid_to``, and overlapping or repeated
    versions of one key.
    """
    if not directory.is_dir():
        raise CodeListError(f"{directory}: code-list directory does not exist")
    paths = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    grouped: dict[str, list[tuple[CodeSet, str]]] = {}
    for path in paths:
        codeset = _load_file(path)
        grouped.setdefault(codeset.key, []).append((codeset, str(path)))
    return {key: _check_versions(key, versions) for key, versions in sorted(grouped.items())}


class CodeSetRegistry:
    """Date-aware lookups over loaded code lists. Immutable once built."""

    def __init__(self, codesets: Mapping[str, Sequence[CodeSet]]) -> None:
        self._sets: dict[str, tuple[CodeSet, ...]] = {}
        for key, sets in codesets.items():
            for codeset in sets:
                if codeset.key != key:
                    raise CodeListError(f"code list {codeset.key!r} filed under key {key!r}")
            origins = [(codeset, f"{key} {codeset.version}") for codeset in sets]
            self._sets[key] = tuple(_check_versions(key, origins))

    @classmethod
    def from_directory(cls, directory: Path = DEFAULT_CODELIST_DIR) -> CodeSetRegistry:
        return cls(load_codesets(directory))

    def keys(self) -> tuple[str, ...]:
        return tuple(self._sets)

    def versions(self, key: str) -> tuple[CodeSet, ...]:
        try:
            return self._sets[key]
        except KeyError:
            raise CodeSetNotFound(f"no code list with key {key!r}") from None

    def version(self, key: str, version: str) -> CodeSet:
        """The exact version a stored record refers to, whatever today's list is."""
        for codeset in self.versions(key):
            if codeset.version == version:
                return codeset
        raise CodeSetNotFound(f"code list {key!r} has no version {version!r}")

    def current(self, key: str, on: date) -> CodeSet:
        """The version of ``key`` in force on ``on`` (``valid_from <= on < valid_to``)."""
        for codeset in self.versions(key):
            if codeset.is_valid_on(on):
                return codeset
        raise CodeSetNotFound(f"no version of code list {key!r} is valid on {on.isoformat()}")

    def lookup(self, key: str, code: str, on: date) -> CodeEntry | None:
        """The entry for ``code`` in the version in force on ``on``; ``None`` if not in it."""
        return self.current(key, on).get(code)

    def family_of(self, key: str, code: str, on: date) -> str | None:
        """Family of ``code`` on ``on``; ``None`` if that list has no family for it.

        An unknown code raises :class:`CodeSetNotFound` rather than returning ``None``, so a
        typo cannot pass for "no family".
        """
        entry = self.lookup(key, code, on)
        if entry is None:
            raise CodeSetNotFound(f"code {code!r} is not in {key!r} on {on.isoformat()}")
        return entry.family
