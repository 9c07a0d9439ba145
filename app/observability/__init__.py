"""What the service tells its operators: structured logs, request ids and metrics."""
