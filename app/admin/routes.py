"""/admin/users: administrators manage their organisation's users and issue tokens and passwords."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse

from app.admin import service
from app.auth.needs import needs, needs_role
from app.deps import CurrentActor, SessionDep

router = APIRouter(prefix="/admin/users", tags=["admin"])
MANAGES = needs_role(service.ADMIN_ROLES, "managing users")
Username = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9._-]{1,63}$")]


def _problems(answers: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    return {
        code: {"description": text, "content": {"application/problem+json": {}}}
        for code, text in answers.items()
    }


FORBIDDEN = {403: "Needs the admin role"}
CREATE_PROBLEMS = _problems(
    {
        **FORBIDDEN,
        409: "`username_taken`: the username is already used in your organisation",
        422: "Invalid data; `role_not_grantable` for an internal role such as `system`",
    }
)
DEACTIVATE_PROBLEMS = _problems(
    {
        **FORBIDDEN,
        404: "No such user in your organisation",
        409: "`last_admin`: the organisation's last active administrator",
    }
)
PASSWORD_PROBLEMS = _problems({**FORBIDDEN, 404: "No such user in your organisation"})


@router.get("", response_model=list[service.UserRead], dependencies=[needs("users.read")])
def list_users(actor: CurrentActor, db: SessionDep) -> list[service.UserRead]:
    """Users of your organisation."""
    return service.list_users(db, actor=actor)


@router.post(
    "",
    status_code=201,
    response_model=service.UserRead,
    responses=CREATE_PROBLEMS,
    dependencies=[MANAGES],
)
def create_user(body: service.UserCreate, actor: CurrentActor, db: SessionDep) -> service.UserRead:
    """Add a user to your organisation with roles."""
    return service.create(db, actor=actor, body=body)


@router.post(
    "/{username}/deactivate",
    response_model=service.UserRead,
    responses=DEACTIVATE_PROBLEMS,
    dependencies=[MANAGES],
)
def deactivate_user(username: Username, actor: CurrentActor, db: SessionDep) -> service.UserRead:
    """Deactivate a user of your organisation: their tokens and signed-in sessions stop working
    at once. The last active administrator cannot be deactivated (409 `last_admin`)."""
    return service.deactivate(db, actor=actor, username=username)


@router.post(
    "/{username}/tokens",
    status_code=201,
    response_model=service.TokenIssued,
    dependencies=[MANAGES],
)
def issue_token(
    username: Username, body: service.TokenRequest, actor: CurrentActor, db: SessionDep
) -> service.TokenIssued:
    """Issue a token for a user of your organisation (shown once)."""
    return service.issue_token(db, actor=actor, username=username, body=body)


@router.post(
    "/{username}/password",
    status_code=201,
    response_model=service.PasswordIssued,
    responses=PASSWORD_PROBLEMS,
    dependencies=[MANAGES],
)
def issue_password(username: Username, actor: CurrentActor, db: SessionDep) -> JSONResponse:
    """Set a new random password for a user of your organisation and show it, in this answer
    only (`Cache-Control: no-store`): give it to the person, who must change it at their next
    sign-in. It replaces any password they had, unlocks an account locked after failed
    sign-ins, and signs them out of every browser."""
    issued = service.issue_password(db, actor=actor, username=username)
    return JSONResponse(
        issued.model_dump(mode="json"), status_code=201, headers={"Cache-Control": "no-store"}
    )
