"""Discharge to assess: the criteria-to-reside log, delay periods, the RFD list."""
