"""Shipped code lists and the loader (docs/domain.md §3.4, §5.2-5.5, §10, §13)."""

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.codelists import (
    DEFAULT_CODELIST_DIR,
    CodeListError,
    CodeSet,
    CodeSetNotFound,
    CodeSetRegistry,
    load_codesets,
)

EN_DASH = "\u2013"

# docs/domain.md §5.2, copied character for character: the golden list for the 2022 file.
ACUTE_2022_LABELS = [
    "Awaiting a medical decision/ intervention including writing the discharge summary",
    "Awaiting community equipment and adaptations to housing",
    "Awaiting confirmation from community hub/single point of access that referral received "
    "and actioned",
    "Awaiting Diagnostic test",
    "Awaiting medicines to take home",
    "Awaiting referral to community single point of access",
    "Awaiting therapy decision to discharge",
    "Awaiting transport",
    "Declared as not meeting the criteria to reside at morning board round and then later in "
    "the day meets the criteria to reside so discharge stopped",
    "Homeless/no right of recourse to public funds/no place to discharge to",
    "Individual/ family not in agreement with discharge plans",
    "No Plan",
    "Pathway 1: awaiting availability of resource for assessment and start of care at home",
    "Pathway 2: awaiting availability of rehabilitation bed in community hospital or other "
    "bedded setting",
    "Pathway 3: awaiting availability of a bed in a residential or nursing home that is likely "
    "to be a permanent placement",
    "Remains in hospital to avoid spread of infectious disease and because there is no other "
    "suitable location to discharge to",
    "Repatriation/Transfer to another acute trust for specialist treatment or ongoing treatment",
    "Safeguarding concern preventing discharge or Court of Protection",
]

# docs/domain.md §5.4: the five 2024 strings confirmed verbatim.
ACUTE_2024_LABELS = [
    "Hospital process – Awaiting therapy review of need for supported discharge",
    "Care transfer hub process – Waiting for confirmation of immediate care needs and pathway",
    "Interface process – Home based rehabilitation, reablement or recovery service arrangements "
    "still underway (Pathway 1)",
    "Capacity – Home-based rehabilitation, reablement or recovery services not yet available "
    "(Pathway 1)",
    "Wellbeing concerns – Patient /family/carer concerns over discharge readiness",
]

# docs/domain.md §3.4, acute Table 4 (2023).
DESTINATION_LABELS = [
    "P0 - Domestic home without reablement support",
    "P0 - Other without reablement support",
    "P1 - Domestic home with reablement support",
    "P1 - Other with reablement support",
    "P1 - Hotel with reablement support",
    "P2 - Care Home (24hr support)",
    "P2 - Designated Setting (isolation before moving to care home)",
    "P2 - Hospice (24hr support)",
    "P2 - Community Rehab Setting (24hr support)",
    "P3 - Care Home (new admission, likely permanent)",
    "P3b - Care Home (existing resident discharged back)",
    "P3b - Designated Setting (isolation before moving to care home as a new admission)",
]

# docs/domain.md §10.
UKCORE_CODES = [
    "19", "29", "30", "37", "38", "48", "49", "50", "51", "52", "53",
    "54", "65", "66", "79", "84", "85", "87", "88", "98", "99",
]  # fmt: skip

REGISTRY = CodeSetRegistry.from_directory(DEFAULT_CODELIST_DIR)


def labels(codeset: CodeSet) -> list[str]:
    return [entry.label for entry in codeset.codes]


class TestShippedFiles:
    def test_keys_and_versions(self) -> None:
        loaded = load_codesets(DEFAULT_CODELIST_DIR)
        assert {key: [s.version for s in sets] for key, sets in loaded.items()} == {
            "delay-reasons-acute": ["2022-05-27", "2024-04-30"],
            "delay-reasons-community": ["2023-10"],
            "sitrep-destinations-acute": ["2023"],
            "ukcore-discharge-destination": ["2.1.0"],
        }

    def test_acute_2022_is_exactly_the_18_national_strings(self) -> None:
        codeset = REGISTRY.version("delay-reasons-acute", "2022-05-27")
        assert len(codeset.codes) == 18
        assert labels(codeset) == ACUTE_2022_LABELS
        assert codeset.status == "verified"
        assert codeset.valid_from == date(2022, 5, 27)
        assert codeset.valid_to == date(2024, 4, 30)

    def test_acute_2022_keeps_odd_spacing(self) -> None:
        codeset = REGISTRY.version("delay-reasons-acute", "2022-05-27")
        assert codeset.by_label("Individual/ family not in agreement with discharge plans")
        assert codeset.by_label("Individual/family not in agreement with discharge plans") is None

    def test_acute_2024_known_strings_with_en_dash(self) -> None:
        codeset = REGISTRY.version("delay-reasons-acute", "2024-04-30")
        verbatim = [e.label for e in codeset.codes if e.verbatim]
        assert verbatim == ACUTE_2024_LABELS
        assert codeset.status == "provisional"  # U5: about 37 codes, 5 known verbatim
        # The other topics docs/domain.md names are present, flagged as not yet verbatim.
        topics = [e for e in codeset.codes if not e.verbatim]
        assert len(topics) == 26
        assert {e.family for e in topics} == {
            "Hospital process",
            "Interface process",
            "Capacity",
            "Wellbeing concerns",
            "Funding",
        }
        assert codeset.valid_to is None
        for entry in codeset.codes:
            assert entry.family is not None
            assert entry.label.startswith(f"{entry.family} {EN_DASH} ")
            assert " - " not in entry.label

    def test_acute_2024_spelling_difference_is_preserved(self) -> None:
        codeset = REGISTRY.version("delay-reasons-acute", "2024-04-30")
        assert "Home based" in codeset.codes[2].label
        assert "Home-based" in codeset.codes[3].label

    def test_en_dash_is_stored_in_the_file_as_u2013(self) -> None:
        text = (DEFAULT_CODELIST_DIR / "delay-reasons-acute-2024.yaml").read_text(encoding="utf-8")
        # Three verbatim "... process – " labels, ten provisional topic labels in those families.
        assert text.count(f"process {EN_DASH} ") == 13
        assert "process - " not in text

    def test_community_2023_is_provisional_and_has_the_quoted_reasons(self) -> None:
        codeset = REGISTRY.version("delay-reasons-community", "2023-10")
        assert codeset.is_provisional
        assert len(codeset.codes) == 21
        assert codeset.by_label("Awaiting readmission to an acute trust") is not None
        assert codeset.by_label("Awaiting outcome of decision for CHC funding") is not None
        assert codeset.valid_from == date(2023, 10, 1)
        assert codeset.valid_to == date(2024, 7, 29)

    def test_sitrep_destinations(self) -> None:
        codeset = REGISTRY.current("sitrep-destinations-acute", date(2023, 6, 1))
        assert labels(codeset) == DESTINATION_LABELS
        for entry in codeset.codes:
            assert entry.label.startswith(f"{entry.family} - ")
        assert [e.code for e in codeset.codes if e.family == "P3b"] == [
            "p3b-care-home",
            "p3b-designated-setting",
        ]

    def test_ukcore_destination_codes_are_strings(self) -> None:
        codeset = REGISTRY.current("ukcore-discharge-destination", date(2025, 1, 1))
        assert [entry.code for entry in codeset.codes] == UKCORE_CODES
        assert codeset.get("19") is not None
        assert codeset.is_provisional  # labels paraphrased, see file


class TestLookupsByDate:
    def test_2022_list_is_current_until_the_day_before_the_2024_spec(self) -> None:
        assert REGISTRY.current("delay-reasons-acute", date(2024, 4, 29)).version == "2022-05-27"

    def test_2024_list_from_its_valid_from(self) -> None:
        assert REGISTRY.current("delay-reasons-acute", date(2024, 4, 30)).version == "2024-04-30"
        assert REGISTRY.current("delay-reasons-acute", date(2030, 1, 1)).version == "2024-04-30"

    def test_first_day_of_the_2022_list(self) -> None:
        assert REGISTRY.current("delay-reasons-acute", date(2022, 5, 27)).version == "2022-05-27"

    def test_before_any_version(self) -> None:
        with pytest.raises(CodeSetNotFound, match="valid on 2022-05-26"):
            REGISTRY.current("delay-reasons-acute", date(2022, 5, 26))

    def test_after_community_sitrep_ended(self) -> None:
        assert REGISTRY.current("delay-reasons-community", date(2024, 7, 28))
        with pytest.raises(CodeSetNotFound):
            REGISTRY.current("delay-reasons-community", date(2024, 7, 29))

    def test_lookup_follows_the_date(self) -> None:
        entry = REGISTRY.lookup("delay-reasons-acute", "transport", date(2023, 6, 1))
        assert entry is not None
        assert entry.label == "Awaiting transport"
        # the 2024 list has no such code (as far as it is known)
        assert REGISTRY.lookup("delay-reasons-acute", "transport", date(2024, 6, 1)) is None

    def test_old_version_stays_reachable_for_stored_records(self) -> None:
        codeset = REGISTRY.version("delay-reasons-acute", "2022-05-27")
        entry = codeset.get("p3-care-home-bed")
        assert entry is not None
        assert entry.label.startswith("Pathway 3: awaiting availability of a bed")

    def test_family_of(self) -> None:
        on = date(2024, 6, 1)
        assert REGISTRY.family_of("delay-reasons-acute", "capacity-p1-services", on) == "Capacity"
        assert REGISTRY.family_of("delay-reasons-acute", "transport", date(2023, 6, 1)) is None
        with pytest.raises(CodeSetNotFound, match="not in"):
            REGISTRY.family_of("delay-reasons-acute", "no-such-code", on)

    def test_unknown_key_and_version(self) -> None:
        with pytest.raises(CodeSetNotFound, match="no code list"):
            REGISTRY.current("nope", date(2024, 1, 1))
        with pytest.raises(CodeSetNotFound, match="no version '1999'"):
            REGISTRY.version("delay-reasons-acute", "1999")


def valid_doc(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "key": "test-list",
        "version": "1",
        "title": "Test list",
        "source": "docs/domain.md",
        "valid_from": date(2024, 1, 1),
        "valid_to": None,
        "status": "verified",
        "codes": [{"code": "a", "label": "Alpha"}, {"code": "b", "label": "Beta"}],
    }
    doc.update(overrides)
    return doc


def write(directory: Path, name: str, doc: object) -> Path:
    path = directory / name
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


class TestBrokenFiles:
    def test_valid_temp_file_loads(self, tmp_path: Path) -> None:
        write(tmp_path, "ok.yaml", valid_doc())
        loaded = load_codesets(tmp_path)
        assert [entry.code for entry in loaded["test-list"][0].codes] == ["a", "b"]

    def test_duplicate_code(self, tmp_path: Path) -> None:
        codes = [{"code": "a", "label": "Alpha"}, {"code": "a", "label": "Another"}]
        write(tmp_path, "dup.yaml", valid_doc(codes=codes))
        with pytest.raises(CodeListError, match=r"dup\.yaml: .*duplicate code\(s\): 'a'"):
            load_codesets(tmp_path)

    def test_duplicate_label(self, tmp_path: Path) -> None:
        codes = [{"code": "a", "label": "Alpha"}, {"code": "b", "label": "Alpha"}]
        write(tmp_path, "dup-label.yaml", valid_doc(codes=codes))
        with pytest.raises(CodeListError, match=r"dup-label\.yaml: .*duplicate label"):
            load_codesets(tmp_path)

    def test_valid_from_not_before_valid_to(self, tmp_path: Path) -> None:
        write(tmp_path, "dates.yaml", valid_doc(valid_to=date(2024, 1, 1)))
        with pytest.raises(CodeListError, match=r"dates\.yaml: .*must be before valid_to"):
            load_codesets(tmp_path)

    def test_overlapping_versions_name_both_files(self, tmp_path: Path) -> None:
        write(tmp_path, "v1.yaml", valid_doc(valid_to=date(2024, 7, 1)))
        write(tmp_path, "v2.yaml", valid_doc(version="2", valid_from=date(2024, 6, 1)))
        with pytest.raises(CodeListError, match=r"v2\.yaml: .*overlaps version '1' in .*v1\.yaml"):
            load_codesets(tmp_path)

    def test_open_ended_version_followed_by_another(self, tmp_path: Path) -> None:
        write(tmp_path, "v1.yaml", valid_doc())
        write(tmp_path, "v2.yaml", valid_doc(version="2", valid_from=date(2025, 1, 1)))
        with pytest.raises(CodeListError, match="has no valid_to"):
            load_codesets(tmp_path)

    def test_adjacent_versions_are_fine(self, tmp_path: Path) -> None:
        write(tmp_path, "v1.yaml", valid_doc(valid_to=date(2024, 7, 1)))
        write(tmp_path, "v2.yaml", valid_doc(version="2", valid_from=date(2024, 7, 1)))
        registry = CodeSetRegistry(load_codesets(tmp_path))
        assert registry.current("test-list", date(2024, 6, 30)).version == "1"
        assert registry.current("test-list", date(2024, 7, 1)).version == "2"

    def test_same_version_twice(self, tmp_path: Path) -> None:
        write(tmp_path, "a.yaml", valid_doc(valid_to=date(2024, 7, 1)))
        write(tmp_path, "b.yaml", valid_doc(valid_from=date(2024, 7, 1)))
        with pytest.raises(CodeListError, match="version '1' is also defined in"):
            load_codesets(tmp_path)

    def test_unquoted_number_is_refused(self, tmp_path: Path) -> None:
        write(tmp_path, "int.yaml", valid_doc(codes=[{"code": 19, "label": "Usual residence"}]))
        with pytest.raises(CodeListError, match=r"int\.yaml: codes\.0\.code: .*valid string"):
            load_codesets(tmp_path)

    def test_missing_and_unknown_fields(self, tmp_path: Path) -> None:
        doc = valid_doc(colour="blue")
        del doc["source"]
        write(tmp_path, "fields.yaml", doc)
        with pytest.raises(CodeListError, match="source: Field required") as caught:
            load_codesets(tmp_path)
        assert "colour: Extra inputs are not permitted" in str(caught.value)

    def test_bad_status(self, tmp_path: Path) -> None:
        write(tmp_path, "status.yaml", valid_doc(status="draft"))
        with pytest.raises(CodeListError, match=r"status\.yaml: status: "):
            load_codesets(tmp_path)

    def test_empty_codes(self, tmp_path: Path) -> None:
        write(tmp_path, "empty.yaml", valid_doc(codes=[]))
        with pytest.raises(CodeListError, match="empty.yaml: codes: "):
            load_codesets(tmp_path)

    def test_label_with_surrounding_whitespace(self, tmp_path: Path) -> None:
        write(tmp_path, "ws.yaml", valid_doc(codes=[{"code": "a", "label": "Alpha "}]))
        with pytest.raises(CodeListError, match="surrounding whitespace"):
            load_codesets(tmp_path)

    def test_invalid_yaml(self, tmp_path: Path) -> None:
        (tmp_path / "bad.yaml").write_text("key: [unclosed\n", encoding="utf-8")
        with pytest.raises(CodeListError, match=r"bad\.yaml: cannot read code list"):
            load_codesets(tmp_path)

    def test_top_level_must_be_a_mapping(self, tmp_path: Path) -> None:
        write(tmp_path, "list.yaml", [valid_doc()])
        with pytest.raises(CodeListError, match=r"list\.yaml: expected a mapping"):
            load_codesets(tmp_path)

    def test_missing_directory(self, tmp_path: Path) -> None:
        with pytest.raises(CodeListError, match="does not exist"):
            load_codesets(tmp_path / "missing")

    def test_registry_refuses_hand_built_overlap(self) -> None:
        first = CodeSet.model_validate(valid_doc())
        second = CodeSet.model_validate(valid_doc(version="2", valid_from=date(2024, 6, 1)))
        with pytest.raises(CodeListError, match="overlaps"):
            CodeSetRegistry({"test-list": [first, second]})

    def test_code_list_error_is_a_value_error(self) -> None:
        assert issubclass(CodeListError, ValueError)
