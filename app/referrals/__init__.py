"""Referrals between partners: a case sends a task to another organisation's queue (issue 17)."""
