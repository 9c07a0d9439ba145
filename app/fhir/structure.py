"""HomeFirst's one extension, published as a StructureDefinition at its canonical path.

The discharge-ready date (DRD) of a hospital spell, on Encounter, as a date. It is derived, never
typed: the start of the current period of not meeting the criteria to reside, or for a finished
spell the start of the final period (NHS England, "Discharge ready date: guidance, examples and
frequently asked questions", england.nhs.uk/long-read/discharge-ready-date-guidance-examples-and-
frequently-asked-questions; docs/domain.md §4.3; `app/discharge/drd.py`). It maps to the
Commissioning Data Set item DISCHARGE READY DATE (HOSPITAL PROVIDER SPELL) of the NHS Data Model
and Dictionary, stated in the definition's `mapping` (identity `cds`).
"""

from __future__ import annotations

from functools import cache

from fhir.resources.R4B.structuredefinition import StructureDefinition

from app.fhir.systems import DRD_EXTENSION, DRD_EXTENSION_ID, FHIR_VERSION

VERSION = "1.0.0"
PUBLISHED = "2026-12-03"
CDS_ITEM = "DISCHARGE READY DATE (HOSPITAL PROVIDER SPELL)"
CDS_MAPPING = {
    "identity": "cds",
    "uri": "https://www.datadictionary.nhs.uk/",
    "name": "NHS Data Model and Dictionary: Commissioning Data Set",
    "comment": (
        "The Commissioning Data Set (admitted patient care) carries the discharge ready date of "
        "a hospital provider spell as the data element " + CDS_ITEM + "."
    ),
}
DEFINITION = (
    "The date the patient no longer met the criteria to reside in hospital: the start of the "
    "current period of not meeting the criteria, or, for a finished spell, the start of the "
    "final period (NHS England, Discharge ready date: guidance, examples and frequently asked "
    "questions). Derived by HomeFirst from the criteria-to-reside entries of the spell, never "
    "typed; absent while the patient meets the criteria, and for a spell that ended while the "
    "patient met them."
)


@cache
def discharge_ready_date() -> StructureDefinition:
    return StructureDefinition.model_validate(
        {
            "resourceType": "StructureDefinition",
            "id": DRD_EXTENSION_ID,
            "url": DRD_EXTENSION,
            "version": VERSION,
            "name": "DischargeReadyDate",
            "title": "Discharge Ready Date (Hospital Provider Spell)",
            "status": "active",
            "date": PUBLISHED,
            "publisher": "HomeFirst",
            "description": DEFINITION,
            "fhirVersion": FHIR_VERSION,
            "mapping": [CDS_MAPPING],
            "kind": "complex-type",
            "abstract": False,
            "context": [{"type": "element", "expression": "Encounter"}],
            "type": "Extension",
            "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Extension",
            "derivation": "constraint",
            "differential": {
                "element": [
                    {
                        "id": "Extension",
                        "path": "Extension",
                        "short": "Discharge Ready Date (Hospital Provider Spell)",
                        "definition": DEFINITION,
                        "min": 0,
                        "max": "1",
                        "mapping": [{"identity": "cds", "map": CDS_ITEM}],
                    },
                    {"id": "Extension.extension", "path": "Extension.extension", "max": "0"},
                    {"id": "Extension.url", "path": "Extension.url", "fixedUri": DRD_EXTENSION},
                    {
                        "id": "Extension.value[x]",
                        "path": "Extension.value[x]",
                        "min": 1,
                        "type": [{"code": "date"}],
                    },
                ]
            },
        }
    )
