"""Wiring the protections into the application, in order (outermost first):

security headers -> CORS (only when origins are configured) -> rate limit -> cross-site guard
-> body size cap -> full `Allow` on OPTIONS and 405 (-> the 500 answer, `app.problems`, added
before these).
Headers are outermost so every answer carries them, including 413, 429 and CORS preflights;
the 500 answer, sent by Starlette from outside all middleware, gets them from its handler.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from app.config import Settings
from app.security.body_limit import BodySizeLimit
from app.security.cookies import SESSION_COOKIE, SIGN_IN_PATHS
from app.security.headers import SecurityHeaders, error_headers
from app.security.methods import AllowedMethods
from app.security.openapi import install_problem_docs
from app.security.origin import SameOriginGuard
from app.security.rate_limit import RateLimit, TokenBuckets

CHC_IMPORT = ("POST", "/api/v1/imports/chc-backlog")
CORS_METHODS = ["GET", "POST", "PATCH"]
CORS_HEADERS = ["Authorization", "Content-Type", "If-Match", "Idempotency-Key"]
CORS_EXPOSE = ["ETag", "Location", "Idempotent-Replayed", "Retry-After", "Content-Disposition"]


def install_security(application: FastAPI, settings: Settings) -> None:
    install_problem_docs(application)
    application.add_middleware(AllowedMethods)
    application.add_middleware(
        BodySizeLimit,
        default=settings.max_body_bytes,
        overrides={CHC_IMPORT: settings.max_upload_body_bytes},
    )
    application.add_middleware(
        SameOriginGuard,
        cookie_name=SESSION_COOKIE,
        sign_in_paths=SIGN_IN_PATHS,
        trusted_origins=settings.trusted_origins,
    )
    if settings.rate_limit_per_minute > 0:
        buckets = TokenBuckets(
            per_minute=settings.rate_limit_per_minute, burst=settings.rate_limit_burst
        )
        application.add_middleware(RateLimit, buckets=buckets)
    if settings.cors_allow_origins:
        application.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_allow_origins,
            allow_methods=CORS_METHODS,
            allow_headers=CORS_HEADERS,
            expose_headers=CORS_EXPOSE,
            allow_credentials=False,
            max_age=600,
        )
    application.add_middleware(
        SecurityHeaders,
        csp=settings.content_security_policy,
        hsts_seconds=settings.hsts_seconds,
    )
    application.state.error_headers = error_headers(
        settings.content_security_policy, settings.hsts_seconds
    )
