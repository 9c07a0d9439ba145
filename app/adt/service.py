"""Receiving an ADT message: recognise a repeat, apply it as the interface's system user, log
it, and answer. The change and the log row commit together; the acknowledgement is built only
after the commit, so AA always means durable. A refused message is logged with its raw text as a
dead letter (the change it had started is rolled back to a savepoint first), for a person to
retry or dismiss.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.adt.ack import build_ack
from app.adt.apply import apply
from app.adt.config import AdtInterfaces, Interface, load_adt_interfaces, sender_of
from app.adt.feed import Applied, Feed
from app.adt.message import AdtMessage, MessageRefused, parse
from app.adt.repository import AdtRepository
from app.auth.actor import Actor
from app.auth.repository import AuthRepository
from app.auth.service import UsernameTaken, add_user
from app.cases.transition import CaseWriter
from app.config import Settings
from app.db import UnitOfWork
from app.errors import Conflict, DomainError, NotFound
from app.models.adt import APPLIED, DISMISSED, IGNORED, REJECTED
from app.models.adt import AdtMessage as LoggedMessage

ROLE = "interface"


def build_adt_service(settings: Settings, writer: CaseWriter) -> AdtService:
    """The feed with the interfaces file of the configured pathways directory (a bad file
    raises, naming it)."""
    return AdtService(writer, load_adt_interfaces(settings.pathways_dir / "config"))


@dataclass(frozen=True)
class Receipt:
    """What the sender is told (`ack`, ER7) and what became of the message."""

    ack: str
    code: str  # AA, AE or AR
    outcome: str
    error_code: str | None = None
    message_id: int | None = None
    duplicate: bool = False


@dataclass
class AdtService:
    writer: CaseWriter
    interfaces: AdtInterfaces
    _actors: dict[str, Actor] = field(default_factory=dict)

    # -- receiving ---------------------------------------------------------------------------
    def receive(
        self, session: Session, raw: str, *, now: datetime, via: Actor | None = None
    ) -> Receipt:
        """`via`: the authenticated interface user when the message came over HTTP (it may send
        only as its own interface); None from the MLLP listener."""
        try:
            msg = parse(raw)
        except MessageRefused as unparsed:
            return self._unparsed(session, raw, unparsed, now, via)
        interface = self.interfaces.for_sender(msg.application, msg.facility)
        if via is not None and (
            interface is None
            or (interface.organisation, interface.username) != (via.organisation, via.username)
        ):
            # Answered, not logged: what another system sends in this interface's name is not
            # this interface's dead letter.
            refused = MessageRefused(
                "not_your_interface",
                "The sender (MSH-3, MSH-4) is not the interface this token belongs to.",
                hl7_code="204",
                reject=True,
            )
            return _answer(msg, "AR", refused, now)
        sender = sender_of(msg.application, msg.facility)
        repo = AdtRepository(session)
        if (seen := repo.message(sender, msg.control_id)) is not None:
            return _receipt(seen, msg, now, duplicate=True)
        if interface is None:
            unknown = MessageRefused(
                "unknown_sender",
                f"Sending application {msg.application!r} and facility {msg.facility!r} "
                "(MSH-3, MSH-4) are not a configured interface (adt-interfaces.yaml).",
                hl7_code="204",
                reject=True,
            )
            return self._log(session, msg, None, None, unknown, now)
        actor = via or self.actor_for(session, interface)
        try:
            with UnitOfWork(session):
                row = self._apply_and_log(session, msg, interface, actor, now)
        except IntegrityError:  # the same message, committed meanwhile by another connection
            session.rollback()
            seen = repo.message(sender, msg.control_id)
            if seen is None:
                raise
            return _receipt(seen, msg, now, duplicate=True)
        return _receipt(row, msg, now)

    def _apply_and_log(
        self, session: Session, msg: AdtMessage, interface: Interface, actor: Actor, now: datetime
    ) -> LoggedMessage:
        feed = Feed(session, self.writer, interface, actor, now)
        applied: Applied | None = None
        failure: MessageRefused | None = None
        # No savepoint (two round trips on every message): until the message is applied the
        # transaction holds only reads, so a refused message rolls all of it back and its log
        # row starts a new one.
        try:
            applied = apply(feed, msg)
        except MessageRefused as refused:
            failure = refused
        except DomainError as error:  # the pathway refused it: state, rule, data or time
            failure = _from_domain(error)
        if failure is not None:
            session.rollback()
        row = _row(msg, interface, now)
        _record(row, applied, failure)
        AdtRepository(session).add_message(row)
        return row

    def _log(
        self,
        session: Session,
        msg: AdtMessage,
        interface: Interface | None,
        organisation: str | None,
        refused: MessageRefused,
        now: datetime,
    ) -> Receipt:
        with UnitOfWork(session):
            row = _row(msg, interface, now, organisation)
            _record(row, None, refused)
            try:
                with session.begin_nested():
                    AdtRepository(session).add_message(row)
            except IntegrityError:
                pass  # logged by a twin meanwhile; the answer is the same
        return _receipt(row, msg, now)

    def _unparsed(
        self, session: Session, raw: str, refused: MessageRefused, now: datetime, via: Actor | None
    ) -> Receipt:
        row = LoggedMessage(
            sender="unparsed",
            control_id=f"unparsed-{uuid.uuid4().hex[:20]}",
            organisation=via.organisation if via else None,
            message_type="?",
            received_at=now,
            processed_at=now,
            raw=raw[:100_000],
        )
        _record(row, None, refused)
        with UnitOfWork(session):
            AdtRepository(session).add_message(row)
        ack = build_ack(
            code="AR",
            control_id="",
            trigger="",
            version="2.4",
            sender_application="",
            sender_facility="",
            now=now,
            text=refused.text,
            error_code=refused.code,
            hl7_error_code=refused.hl7_code,
        )
        return Receipt(ack, "AR", REJECTED, refused.code, row.id)

    # -- a person resolving a dead letter ---------------------------------------------------
    def retry(
        self,
        session: Session,
        message_id: int,
        *,
        organisation: str | None,
        by: Actor,
        now: datetime,
    ) -> LoggedMessage:
        """Apply a refused message again, with today's configuration and the case as it is now
        (the admission that was missing may have arrived). It stays a dead letter, with the new
        reason, if it is refused again."""
        with UnitOfWork(session):
            row = _dead_letter(session, message_id, organisation)
            try:
                msg = parse(row.raw)
            except MessageRefused as unusable:
                raise Conflict(
                    f"ADT message {message_id} cannot be applied ({unusable.text}); dismiss it"
                ) from None
            interface = self.interfaces.for_sender(msg.application, msg.facility)
            if interface is None:
                raise Conflict(
                    "the sender is still not a configured interface", code="unknown_sender"
                )
        actor = self.actor_for(session, interface)
        with UnitOfWork(session):
            row = _dead_letter(session, message_id, organisation)
            feed = Feed(session, self.writer, interface, actor, now)
            try:
                with session.begin_nested():
                    applied = apply(feed, msg)
            except MessageRefused as refused:
                _record(row, None, refused)
            except DomainError as error:
                _record(row, None, _from_domain(error))
            else:
                _record(row, applied, None)
                row.resolved_at, row.resolved_by = now, by.username
                row.resolution = "applied on retry"
            row.interface, row.organisation = interface.key, interface.organisation
            row.attempts += 1
            row.processed_at = now
        return row

    def dismiss(
        self,
        session: Session,
        message_id: int,
        *,
        organisation: str | None,
        by: Actor,
        reason: str,
        now: datetime,
    ) -> LoggedMessage:
        with UnitOfWork(session):
            row = _dead_letter(session, message_id, organisation)
            row.outcome = DISMISSED
            row.resolved_at, row.resolved_by, row.resolution = now, by.username, reason
        return row

    # -- the interface's system user ---------------------------------------------------------
    def actor_for(self, session: Session, interface: Interface) -> Actor:
        """The interface's user (role `interface`), created the first time it is needed."""
        if (known := self._actors.get(interface.key)) is not None:
            return known
        user = AuthRepository(session).user_in(interface.organisation, interface.username)
        if user is None:
            try:
                user = add_user(
                    session,
                    username=interface.username,
                    display_name=f"PAS feed ({interface.key})",
                    organisation=interface.organisation,
                    roles=[ROLE],
                    allow_internal_roles=True,
                )
            except UsernameTaken:  # another connection's first message created it meanwhile
                user = AuthRepository(session).user_in(interface.organisation, interface.username)
                if user is None:
                    raise
        session.rollback()  # end the read's transaction: each message is its own
        roles = frozenset(user.roles.split())
        if not user.active or ROLE not in roles:
            raise Conflict(
                f"user {interface.username!r} of interface {interface.key} is inactive or lacks "
                "the interface role"
            )
        actor = Actor(user.id, user.username, user.organisation, roles)
        self._actors[interface.key] = actor
        return actor


# -- the log row ------------------------------------------------------------------------------
def _row(
    msg: AdtMessage, interface: Interface | None, now: datetime, organisation: str | None = None
) -> LoggedMessage:
    return LoggedMessage(
        sender=sender_of(msg.application, msg.facility),
        control_id=msg.control_id[:64],
        interface=interface.key if interface else None,
        organisation=interface.organisation if interface else organisation,
        message_type=msg.message_type[:16],
        event_at=msg.event_at,
        received_at=now,
        processed_at=now,
        raw=msg.raw,
        attempts=1,
    )


def _record(row: LoggedMessage, applied: Applied | None, failure: MessageRefused | None) -> None:
    if failure is not None:
        row.outcome, row.ack_code = REJECTED, "AR" if failure.reject else "AE"
        row.error_code, row.error_text = failure.code, failure.text
        row.case_id = failure.case_id if failure.case_id is not None else row.case_id
        row.hl7_error = failure.hl7_code
        return
    assert applied is not None  # noqa: S101 - one of the two is given
    row.outcome, row.ack_code = (IGNORED if applied.ignored else APPLIED), "AA"
    row.error_code = row.error_text = None
    row.case_id, row.events = applied.case_id, ",".join(applied.events) or None
    row.note = applied.note


def _answer(msg: AdtMessage, code: str, refused: MessageRefused, now: datetime) -> Receipt:
    ack = build_ack(
        code=code,
        control_id=msg.control_id,
        trigger=msg.trigger,
        version=msg.version,
        sender_application=msg.application,
        sender_facility=msg.facility,
        now=now,
        text=refused.text,
        error_code=refused.code,
        hl7_error_code=refused.hl7_code,
    )
    return Receipt(ack, code, REJECTED, refused.code)


def _from_domain(error: DomainError) -> MessageRefused:
    # HL7 table 0357: 207 application internal error is the nearest to "not allowed now".
    return MessageRefused(error.code, error.detail, hl7_code="207")


def _dead_letter(session: Session, message_id: int, organisation: str | None) -> LoggedMessage:
    row = AdtRepository(session).message_by_id(
        message_id, organisation=organisation, for_update=True
    )
    if row is None:
        raise NotFound(f"ADT message {message_id} not found")
    if row.outcome != REJECTED:
        raise Conflict(f"ADT message {message_id} is not a dead letter (it is {row.outcome})")
    return row


def _receipt(
    row: LoggedMessage, msg: AdtMessage, now: datetime, *, duplicate: bool = False
) -> Receipt:
    ack = build_ack(
        code=row.ack_code,
        control_id=msg.control_id,
        trigger=msg.trigger,
        version=msg.version,
        sender_application=msg.application,
        sender_facility=msg.facility,
        now=now,
        text=row.error_text or row.note,
        error_code=row.error_code,
        hl7_error_code=row.hl7_error,
    )
    return Receipt(ack, row.ack_code, row.outcome, row.error_code, row.id, duplicate)
