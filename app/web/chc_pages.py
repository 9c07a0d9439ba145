"""The CHC screens, mounted together: the assessor's queue, the CHC case with its assessment
tools, the panel agenda and the backlog imports with their reconciliation queue."""

from __future__ import annotations

from fastapi import APIRouter

from app.web import chc_case, chc_imports, chc_panels, chc_queue

router = APIRouter(include_in_schema=False)
router.include_router(chc_queue.router)
router.include_router(chc_case.router)
router.include_router(chc_panels.router)
router.include_router(chc_imports.router)
