"""A cap on the size of request bodies, enforced while the body is read.

A declared `Content-Length` over the cap is refused at once, before the application runs. A body
sent without one (chunked) is counted as it arrives; crossing the cap raises a 413 from inside
the read, which the application's HTTP error handler renders. Either way the answer is a 413
`payload_too_large` problem, and nothing the request would have done happens.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.exceptions import HTTPException

from app.problems import problem
from app.security.asgi import ASGIApp, Message, Receive, Scope, Send, header


class PayloadTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than the {limit} bytes allowed here.")
        self.limit = limit


class BodySizeLimit:
    """Pure ASGI middleware. `overrides` maps (method, path) to a larger or smaller cap."""

    def __init__(
        self, app: ASGIApp, *, default: int, overrides: Mapping[tuple[str, str], int]
    ) -> None:
        self.app = app
        self.default = default
        self.overrides = dict(overrides)

    def limit_for(self, method: str, path: str) -> int:
        return self.overrides.get((method, path.rstrip("/") or "/"), self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["method"], scope["path"])
        declared = header(scope, b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            response = problem(
                413, "payload_too_large", "Request body too large", _detail(limit), {"limit": limit}
            )
            await response(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLarge(limit)
            return message

        await self.app(scope, limited_receive, send)


def _detail(limit: int) -> str:
    return f"The request body is larger than the {limit} bytes allowed here."
