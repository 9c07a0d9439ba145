"""Data quality of discharge-ready dates (issue 19, item 4): local measures of how well the
criteria-to-reside status and delay reasons are recorded, derived from the case events."""
