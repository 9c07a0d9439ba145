"""The server's access log names paths, never query strings.

A query string can carry a patient's NHS number (`/cases?patient_ref=...`), and a client may
put a token in one (`?access_token=...`, which the service refuses, but only after the server
has logged the request line). uvicorn's access log writes the path with its query string;
this filter cuts the query string off every request line its `uvicorn.access` logger records.
The path itself holds only database ids and route names.

`app.asgi` installs it in every process that serves the application (`homefirst serve`, or
`uvicorn app.asgi:application`, with any number of workers): uvicorn configures its loggers
before it imports the application, and the filter stays on the logger after.
"""

from __future__ import annotations

import logging

ACCESS_LOGGER = "uvicorn.access"


class PathsWithoutQuery(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        # uvicorn logs (client, method, path with query, HTTP version, status) as the arguments
        # of a fixed message; any argument that is a path with a query loses the query.
        if isinstance(record.args, tuple):
            record.args = tuple(_without_query(arg) for arg in record.args)
        return True


def _without_query(value: object) -> object:
    if isinstance(value, str) and value.startswith("/") and "?" in value:
        return value.partition("?")[0]
    return value


def install_access_log_filter() -> None:
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, PathsWithoutQuery) for f in logger.filters):
        logger.addFilter(PathsWithoutQuery())
