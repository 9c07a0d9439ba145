"""The URLs FHIR resources name: profiles, code systems, identifier systems and HomeFirst's own.

HomeFirst's canonical URLs sit under `CANONICAL_BASE`; the service publishes the one
StructureDefinition it defines at the same path under its own address
(`GET /fhir/R4/StructureDefinition/discharge-ready-date`).
"""

from __future__ import annotations

FHIR_VERSION = "4.0.1"
FHIR_JSON = "application/fhir+json"
BASE_PATH = "/fhir/R4"

# HomeFirst's canonical base (a URL that names things; it need not resolve).
CANONICAL_BASE = "https://homefirst.example/fhir/R4"
DRD_EXTENSION = f"{CANONICAL_BASE}/StructureDefinition/discharge-ready-date"
DRD_EXTENSION_ID = "discharge-ready-date"
CODE_SYSTEMS = f"{CANONICAL_BASE}/CodeSystem"
EPISODE_TYPE_SYSTEM = f"{CODE_SYSTEMS}/episode-type"
IC_MODEL_SYSTEM = f"{CODE_SYSTEMS}/intermediate-care-model"
TASK_TYPE_SYSTEM = f"{CODE_SYSTEMS}/task-type"
FLAG_CODE_SYSTEM = f"{CODE_SYSTEMS}/flag"
# HomeFirst's own identifiers: an organisation as HomeFirst knows it (its code is not
# necessarily an ODS code), a hospital system (trust) as recorded on a discharge case, a user.
ORGANISATION_ID_SYSTEM = "https://homefirst.example/Id/organisation"
HOSPITAL_SYSTEM_ID_SYSTEM = "https://homefirst.example/Id/hospital-system"
USER_ID_SYSTEM = "https://homefirst.example/Id/user"

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
UK_CORE = "https://fhir.hl7.org.uk/StructureDefinition"
PROFILES = {
    "Encounter": f"{UK_CORE}/UKCore-Encounter",
    "EpisodeOfCare": f"{UK_CORE}/UKCore-EpisodeOfCare",
    "Task": f"{UK_CORE}/UKCore-Task",
    "Flag": f"{UK_CORE}/UKCore-Flag",
}
# docs/PUBLISHED-RULES.md row 38: the England code system of UKCore-DischargeDestination.
DISCHARGE_DESTINATION_SYSTEM = (
    "https://fhir.hl7.org.uk/CodeSystem/UKCore-DischargeDestinationEngland"
)
DISCHARGE_DESTINATION_LIST = "ukcore-discharge-destination"
ACT_CODE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
LOCATION_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/location-physical-type"
FLAG_CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/flag-category"
DATA_ABSENT_REASON = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
