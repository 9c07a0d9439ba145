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

# PUBLISHED-RULES.md §2.1: every 2024 string found verbatim, in the file's order (the care-home
# pair's text after the dash is published; its family prefix follows the list's pattern, row 3).
ACUTE_2024_LABELS = [
    "Hospital process – Awaiting therapy review of need for supported discharge",
    "Care transfer hub process – Waiting for confirmation of immediate care needs and pathway",
    "Interface process – Home based rehabilitation, reablement or recovery service arrangements "
    "still underway (Pathway 1)",
    "Capacity – Home-based rehabilitation, reablement or recovery services not yet available "
    "(Pathway 1)",
    "Interface process – Bed-based rehabilitation, reablement or recovery service arrangements "
    "still underway (Pathway 2)",
    "Capacity – Bed-based rehabilitation, reablement or recovery services not yet available "
    "(Pathway 2)",
    "Interface process – Residential or nursing home care arrangements still underway",
    "Capacity – Residential or nursing home care not yet available",
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
            "criteria-to-reside": ["2020", "2024"],
            "delay-reasons-acute": ["2022-05-27", "2024-04-30"],
            "delay-reasons-community": ["2023-06", "2023-10", "2024-07-29"],
            "sitrep-destinations-acute": ["2023", "2024"],
            "sitrep-destinations-community": ["2023-06", "2023-10", "2023-11"],
            "ukcore-discharge-destination": ["2.1.0"],
        }

    def test_acute_2022_is_exactly_the_18_national_strings(self) -> None:
        codeset = REGISTRY.version("delay-reasons-acute", "2022-05-27")
        assert len(codeset.codes) == 18
        assert labels(codeset) == ACUTE_2022_LABELS
        assert codeset.status == "verified"
        assert codeset.valid_from == date(2022, 5, 27)
        assert codeset.valid_to == date(2024, 5, 27)  # the 2024 collection start (row 7)

    def test_acute_2022_keeps_odd_spacing(self) -> None:
        codeset = REGISTRY.version("delay-reasons-acute", "2022-05-27")
        assert codeset.by_label("Individual/ family not in agreement with discharge plans")
        assert codeset.by_label("Individual/family not in agreement with discharge plans") is None

    def test_acute_2024_known_strings_with_en_dash(self) -> None:
        codeset = REGISTRY.version("delay-reasons-acute", "2024-04-30")
        verbatim = [e.label for e in codeset.codes if e.verbatim]
        assert verbatim == ACUTE_2024_LABELS
        assert codeset.status == "provisional"  # U5: about 37 codes, 9 known verbatim
        assert codeset.verbatim == "partly"
        # The other topics are present, flagged as not yet verbatim.
        topics = [e for e in codeset.codes if not e.verbatim]
        assert len(topics) == 31
        assert {e.family for e in topics} == {
            "Hospital process",
            "Interface process",
            "Capacity",
            "Wellbeing concerns",
            "Funding (local)",
        }
        assert codeset.valid_to is None
        for entry in codeset.codes:
            assert entry.family is not None
            assert " - " not in entry.label

    def test_acute_2024_national_families_prefix_their_labels(self) -> None:
        """ "The NHSE monthly CSV uses an en dash (U+2013)" after the family (§2.1)."""
        codeset = REGISTRY.version("delay-reasons-acute", "2024-04-30")
        for entry in codeset.codes:
            assert entry.family is not None
            if entry.family != "Funding (local)":
                assert entry.label.startswith(f"{entry.family} {EN_DASH} ")

    def test_no_funding_prefix_is_presented_as_national(self) -> None:
        """Row 6: 'do not ship "Funding –" as a national string'. The funding topics stay (ids
        unchanged, so recorded delays keep their meaning) in a local family with local labels."""
        codeset = REGISTRY.version("delay-reasons-acute", "2024-04-30")
        assert not [e for e in codeset.codes if e.label.startswith(f"Funding {EN_DASH}")]
        assert not [e for e in codeset.codes if e.family == "Funding"]
        funding = [e for e in codeset.codes if e.family == "Funding (local)"]
        assert [e.code for e in funding] == [
            "funding-funding-eligibility",
            "funding-fast-track-chc",
            "funding-continuing-healthcare",
        ]
        for entry in funding:
            assert not entry.verbatim
            assert "local label" in entry.label

    def test_acute_2024_pathway_2_pair_is_exact_under_the_old_ids(self) -> None:
        """Row 2: "Interface process – Bed-based rehabilitation, reablement or recovery service
        arrangements still underway (Pathway 2)"; "Capacity – Bed-based rehabilitation,
        reablement or recovery services not yet available (Pathway 2)"."""
        codeset = REGISTRY.version("delay-reasons-acute", "2024-04-30")
        interface = codeset.get("interface-bed-based-arrangements-pathway-2")
        capacity = codeset.get("capacity-bed-based-services-pathway-2")
        assert interface is not None
        assert interface.verbatim
        assert interface.label == (
            "Interface process – Bed-based rehabilitation, reablement or recovery service "
            "arrangements still underway (Pathway 2)"
        )
        assert capacity is not None
        assert capacity.verbatim
        assert capacity.label == (
            "Capacity – Bed-based rehabilitation, reablement or recovery services not yet "
            "available (Pathway 2)"
        )

    def test_acute_2024_care_home_pair(self) -> None:
        """Row 3: "Residential or nursing home care not yet available" (Capacity) and
        "Residential or nursing home care arrangements still underway" (Interface process)."""
        codeset = REGISTRY.version("delay-reasons-acute", "2024-04-30")
        capacity = codeset.get("capacity-residential-nursing-home")  # the id recorded cases use
        assert capacity is not None
        assert capacity.label == "Capacity – Residential or nursing home care not yet available"
        interface = codeset.get("interface-residential-nursing-home")
        assert interface is not None
        assert interface.label == (
            "Interface process – Residential or nursing home care arrangements still underway"
        )
        assert capacity.note
        assert interface.note

    def test_mental_health_topic_says_admitted_patient_care(self) -> None:
        """Row 5: "…mental health admitted **patient** care"."""
        codeset = REGISTRY.version("delay-reasons-acute", "2024-04-30")
        entry = codeset.get("capacity-mental-health-admitted-care")
        assert entry is not None
        assert entry.label == "Capacity – mental health admitted patient care"
        assert not entry.verbatim

    def test_every_capacity_topic_has_an_interface_twin(self) -> None:
        """Row 4: "for each service type there is an 'Interface process – … arrangements still
        underway' code and a 'Capacity – … not yet available' code"."""
        codeset = REGISTRY.version("delay-reasons-acute", "2024-04-30")
        capacity = [e.code for e in codeset.codes if e.family == "Capacity"]
        assert len(capacity) == 11
        twins = {
            "capacity-p1-services": "interface-p1-arrangements",
            "capacity-bed-based-services-pathway-2": "interface-bed-based-arrangements-pathway-2",
            "capacity-mental-health-admitted-care": "interface-mental-health-admitted-patient-care",
        }
        for code in capacity:
            twin = twins.get(code, code.replace("capacity-", "interface-", 1))
            entry = codeset.get(twin)
            assert entry is not None, f"{code} has no Interface twin"
            assert entry.family == "Interface process"
            if not entry.verbatim:
                assert entry.note is not None
                assert "unverified" in entry.note

    def test_recorded_2024_codes_keep_their_ids(self) -> None:
        """Codes recorded before the labels were corrected still resolve."""
        codeset = REGISTRY.version("delay-reasons-acute", "2024-04-30")
        for code in (
            "hospital-therapy-review", "cth-immediate-needs", "interface-p1-arrangements",
            "capacity-p1-services", "wellbeing-readiness-concerns", "hospital-medical-review",
            "hospital-formal-decision-to-discharge", "hospital-discharge-letter",
            "hospital-medicines-to-take-home", "hospital-referral-to-care-transfer-hub",
            "hospital-patient-transport", "interface-bed-based-arrangements-pathway-2",
            "interface-discharge-destination-readiness", "interface-out-of-area-discharge",
            "interface-further-action-requested-by-agreed-provider",
            "capacity-bed-based-services-pathway-2", "capacity-home-based-community-health",
            "capacity-home-based-social-care", "capacity-restart-of-existing-social-care",
            "capacity-self-funded-care-package", "capacity-residential-nursing-home",
            "capacity-mental-health-admitted-care", "capacity-equipment",
            "capacity-housing-adaptations", "capacity-housing-provision-homelessness",
            "wellbeing-patient-family-carer-choice", "wellbeing-mental-capacity",
            "wellbeing-safeguarding", "funding-funding-eligibility", "funding-fast-track-chc",
            "funding-continuing-healthcare",
        ):  # fmt: skip
            assert codeset.get(code) is not None, code

    def test_acute_2024_spelling_difference_is_preserved(self) -> None:
        codeset = REGISTRY.version("delay-reasons-acute", "2024-04-30")
        interface = codeset.get("interface-p1-arrangements")
        capacity = codeset.get("capacity-p1-services")
        assert interface is not None
        assert "Home based" in interface.label
        assert capacity is not None
        assert "Home-based" in capacity.label

    def test_acute_2024_publication_and_collection_dates_kept_apart(self) -> None:
        """Row 7: "definitions changed from 27 May 2024"; "The spec was *published* on 30 Apr
        2024"."""
        codeset = REGISTRY.version("delay-reasons-acute", "2024-04-30")
        assert codeset.valid_from == date(2024, 5, 27)
        assert codeset.published == date(2024, 4, 30)
        previous = REGISTRY.version("delay-reasons-acute", "2022-05-27")
        assert previous.valid_to == codeset.valid_from

    def test_en_dash_is_stored_in_the_file_as_u2013(self) -> None:
        text = (DEFAULT_CODELIST_DIR / "delay-reasons-acute-2024.yaml").read_text(encoding="utf-8")
        assert f"process {EN_DASH} " in text
        assert "process - " not in text
        assert "Capacity - " not in text

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


# PUBLISHED-RULES.md §2.8, England code system v1.0.1: four of the 21 exact displays.
UKCORE_DISPLAYS = {
    "19": "Usual place of residence unless listed below, for example, a private dwelling whether "
    "owner occupied or owned by Local Authority, housing association or other landlord. This "
    "includes wardened accommodation but not residential accommodation where health care is "
    "provided. It also includes patients with no fixed abode.",
    "51": "NHS other Hospital Provider - Ward for general patients or the younger physically "
    "disabled",
    "79": "Not applicable - Patient died or stillbirth",
    "85": "Non-NHS (other than Local Authority) run Care Home",
}

# PUBLISHED-RULES.md §2.7: "Every person on every general ward should be reviewed on a twice daily
# ward round against the following clinical criteria:"
CTR_2020_LABELS = [
    "Requiring ITU or HDU care?",
    "Requiring oxygen therapy/NIV?",
    "Requiring intravenous fluids?",
    "NEWS2 > 3? (clinical judgement required in persons with AF and/or chronic respiratory "
    "disease)",
    "Diminished level of consciousness where recovery realistic?",
    "Acute functional impairment in excess of home/community care provision?",
    "Last hours of life?",
    "Requiring intravenous medication > b.d. (including analgesia)?",
    "Undergone lower limb surgery within 48hrs?",
    "Undergone thorax-abdominal/pelvic surgery with 72 hrs?",
    "Within 24hrs of an invasive procedure? (with attendant risk of acute life- threatening "
    "deterioration)",
]


class TestNewLists:
    def test_ukcore_exact_displays_system_and_date(self) -> None:
        """Row 38: labels were paraphrased; the England code system's displays are exact."""
        codeset = REGISTRY.version("ukcore-discharge-destination", "2.1.0")
        for code, display in UKCORE_DISPLAYS.items():
            entry = codeset.get(code)
            assert entry is not None
            assert entry.label == display
        assert codeset.system == (
            "https://fhir.hl7.org.uk/CodeSystem/UKCore-DischargeDestinationEngland"
        )
        assert codeset.valid_from == date(2022, 1, 7)  # the value set's date, not Encounter's
        assert codeset.status == "verified"
        assert "v1.0.1" in codeset.title
        assert "2.1.0" in codeset.title

    def test_sitrep_destinations_2024_exact_strings(self) -> None:
        """Row 15: "Pathway 1: Discharge to a domestic home, hotel, or other temporary
        accommodation, or hospice at home with rehabilitation, reablement and recovery" and
        "Pathway 2: Short-term bed/hospice for rehabilitation, reablement and recovery / end of
        life care"."""
        codeset = REGISTRY.version("sitrep-destinations-acute", "2024")
        exact = [e.label for e in codeset.codes if e.verbatim]
        assert exact == [
            "Pathway 1: Discharge to a domestic home, hotel, or other temporary accommodation, "
            "or hospice at home with rehabilitation, reablement and recovery",
            "Pathway 2: Short-term bed/hospice for rehabilitation, reablement and recovery / "
            "end of life care",
        ]
        assert codeset.is_provisional
        assert {e.family for e in codeset.codes} == {"P0", "P1", "P2", "P3", "P3b"}
        assert REGISTRY.version("sitrep-destinations-acute", "2023").valid_to == date(2024, 5, 27)

    def test_community_table_4_versions(self) -> None:
        """Row 18 / §2.6: 11 destinations (Jun-Sep 2023), 21 (Oct 2023), 14 (Nov 2023 on), with
        the source's spelling ("continute", "accomodation")."""
        key = "sitrep-destinations-community"
        june = REGISTRY.current(key, date(2023, 6, 1))
        october = REGISTRY.current(key, date(2023, 10, 15))
        november = REGISTRY.current(key, date(2023, 11, 1))
        assert [len(s.codes) for s in (june, october, november)] == [11, 21, 14]
        assert set(labels(june)) < set(labels(october))
        assert set(labels(november)) < set(labels(october))
        assert october.by_label(
            "P1 - Domestic home or setting to continute with rehabilitation, reablement, and "
            "recovery"
        )
        assert november.by_label(
            "P1 - Hotel or other temporary accomodation to continue rehabilitation, reablement "
            "and recovery"
        )
        assert "P1 - Domestic home, new reablement support" not in labels(november)
        for codeset in (june, october, november):
            assert codeset.is_provisional  # U4: punctuation disputed
            assert codeset.notes is not None
            assert "disputed" in codeset.notes
            for entry in codeset.codes:
                assert entry.label.startswith(f"{entry.family} - ")

    def test_community_delay_list_june_2023(self) -> None:
        """Row 17 / §2.5: the June-September 2023 list of 18, e.g. "Awaiting transfer back to an
        acute trust"."""
        codeset = REGISTRY.current("delay-reasons-community", date(2023, 9, 30))
        assert codeset.version == "2023-06"
        assert len(codeset.codes) == 18
        entry = codeset.get("acute-readmission")
        assert entry is not None
        assert entry.label == "Awaiting transfer back to an acute trust"

    def test_criteria_to_reside_2020_verbatim(self) -> None:
        """Row 20 / §2.7: the 2020 Annex A questions, verbatim ("with 72 hrs" as published)."""
        codeset = REGISTRY.current("criteria-to-reside", date(2024, 6, 1))
        assert codeset.version == "2020"
        assert labels(codeset) == CTR_2020_LABELS
        assert "simplifier.net" in codeset.source

    def test_criteria_to_reside_2024_is_a_placeholder_not_invented(self) -> None:
        """Row 20: "The 2024 Annex D wording is **still to be transcribed**"."""
        placeholder = REGISTRY.version("criteria-to-reside", "2024")
        assert placeholder.is_placeholder
        assert placeholder.codes == ()
        assert placeholder.notes is not None
        assert "still to be transcribed" in placeholder.notes.lower()
        # It never answers: the 2020 text stays in use until Annex D is transcribed.
        assert REGISTRY.current("criteria-to-reside", date(2026, 12, 3)).version == "2020"


class TestLookupsByDate:
    def test_2022_list_is_current_until_the_2024_collection_starts(self) -> None:
        """Row 7: "definitions changed from 27 May 2024" (publication was 30 April 2024)."""
        for day in (date(2024, 4, 29), date(2024, 4, 30), date(2024, 5, 1), date(2024, 5, 26)):
            assert REGISTRY.current("delay-reasons-acute", day).version == "2022-05-27", day

    def test_2024_list_from_the_collection_start(self) -> None:
        assert REGISTRY.current("delay-reasons-acute", date(2024, 5, 27)).version == "2024-04-30"
        assert REGISTRY.current("delay-reasons-acute", date(2024, 5, 31)).version == "2024-04-30"
        assert REGISTRY.current("delay-reasons-acute", date(2030, 1, 1)).version == "2024-04-30"

    def test_destinations_switch_with_the_delay_list(self) -> None:
        key = "sitrep-destinations-acute"
        assert REGISTRY.current(key, date(2024, 5, 26)).version == "2023"
        assert REGISTRY.current(key, date(2024, 5, 27)).version == "2024"

    def test_first_day_of_the_2022_list(self) -> None:
        assert REGISTRY.current("delay-reasons-acute", date(2022, 5, 27)).version == "2022-05-27"

    def test_before_any_version(self) -> None:
        with pytest.raises(CodeSetNotFound, match="valid on 2022-05-26"):
            REGISTRY.current("delay-reasons-acute", date(2022, 5, 26))

    def test_community_sitrep_hands_over_to_the_icdc(self) -> None:
        """Row 19: "the Intermediate Care Data Collection which was introduced on 29th July 2024
        and replaces the Community Discharge Sitrep"."""
        key = "delay-reasons-community"
        assert REGISTRY.current(key, date(2024, 7, 28)).version == "2023-10"
        icdc = REGISTRY.current(key, date(2024, 7, 29))
        assert icdc.version == "2024-07-29"
        assert icdc.is_provisional
        assert icdc.verbatim == "none"  # no ICDC string is known: topics only
        # The same codes carry across the hand-over, so a delay keeps its meaning.
        community = {e.code for e in REGISTRY.version(key, "2023-10").codes}
        assert {e.code for e in icdc.codes} <= community
        for destinations in ("sitrep-destinations-community",):
            assert REGISTRY.current(destinations, date(2024, 7, 28)).version == "2023-11"
            with pytest.raises(CodeSetNotFound):
                REGISTRY.current(destinations, date(2024, 7, 29))

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
        with pytest.raises(CodeListError, match=r"empty\.yaml: .*codes: a list needs at least one"):
            load_codesets(tmp_path)

    def test_placeholder_has_no_codes_and_needs_notes(self, tmp_path: Path) -> None:
        write(tmp_path, "p.yaml", valid_doc(status="placeholder"))
        with pytest.raises(CodeListError, match="a placeholder list has no codes"):
            load_codesets(tmp_path)
        write(tmp_path, "p.yaml", valid_doc(status="placeholder", codes=[]))
        with pytest.raises(CodeListError, match="needs notes"):
            load_codesets(tmp_path)

    def test_placeholder_never_answers_and_does_not_overlap(self, tmp_path: Path) -> None:
        write(tmp_path, "v1.yaml", valid_doc())
        placeholder = valid_doc(
            version="2", valid_from=date(2025, 1, 1), status="placeholder", codes=[], notes="todo"
        )
        write(tmp_path, "v2.yaml", placeholder)
        registry = CodeSetRegistry(load_codesets(tmp_path))
        assert [s.version for s in registry.versions("test-list")] == ["1", "2"]
        assert registry.current("test-list", date(2026, 1, 1)).version == "1"

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
