"""The what-if simulation (issue 19, item 3): capacity changes tried on a model seeded from the
event log."""
