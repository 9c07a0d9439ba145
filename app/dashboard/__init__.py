"""Managers' read side: daily metrics, snapshots, the change feed, exports and the page."""
