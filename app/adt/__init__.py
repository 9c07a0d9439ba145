"""HL7 v2 ADT from the hospital's PAS: admissions, ward moves and discharges fill the tracker."""
