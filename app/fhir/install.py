"""Mounting the FHIR interface on the application: its routes, its OperationOutcome errors and
their documentation. Called by the application factory once the API's error handlers and
security middleware are installed, and before `install_access` (which reads the routes' grants).
"""

from __future__ import annotations

from fastapi import FastAPI

from app.fhir.errors import install_outcomes
from app.fhir.openapi import install_fhir_docs
from app.fhir.routes import router


def install_fhir(application: FastAPI) -> None:
    application.include_router(router)
    install_outcomes(application)
    install_fhir_docs(application)
