"""The costed multi-cause delay ledger (issue 19, item 1): every delayed bed day attributed to
the delay reasons open that day, to the organisation responsible for each, and costed."""
