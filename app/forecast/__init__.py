"""Queue-aware start windows, the CHC backlog clearance forecast and their backtest (issue 19,
item 2)."""
