"""Safe retries: a request sent again with the same Idempotency-Key replays its first answer."""
