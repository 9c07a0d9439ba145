"""Placing each row of a source list on the single working list (docs/domain.md §7.10).

Matching: NHS number first; a row without one on name, date of birth and postcode. A new person
opens a case through the engine, backdated to the list's referral date with a reason. A known
person gets one `update_details` event that links the row and fills blank facts; values that
disagree become reconciliation items. Every row lands in exactly one list of the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.cases.transition import CaseWriter
from app.chc.csvread import ParsedRow
from app.chc.repository import ChcRepository
from app.chc.worklist import facts_of, start_of_day
from app.engine.engine import Command, OpenCommand
from app.errors import DomainError
from app.models import Case, ChcImport, ChcImportRejection, ChcReconciliationItem, ChcSourceRecord

DETAIL_FIELDS = (
    "person_name",
    "date_of_birth",
    "postcode",
    "referral_date",
    "discharge_date",
    "setting",
    "interim_nhs_funded",
    "package_end_date",
    "safeguarding_concern",
)
COMPARED = (*DETAIL_FIELDS, "fast_track")


def as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


@dataclass
class ListMerger:
    session: Session
    repo: ChcRepository
    writer: CaseWriter
    actor: Actor
    batch: ChcImport
    now: datetime
    seen: dict[str, int] = field(default_factory=dict)
    touched: set[int] = field(default_factory=set)
    lists: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {
            k: [] for k in ("accepted", "merged", "conflicts", "rejected", "unchanged", "warnings")
        }
    )

    def row(self, row: ParsedRow) -> None:
        rid = row.source_record_id
        for warning in row.warnings:
            self.lists["warnings"].append({"row": row.row_number, "text": warning})
        if row.problems or rid is None:
            return self._reject(row, row.problems or ["the source record id is missing"])
        if rid in self.seen:
            return self._reject(
                row, [f"record id {rid} appears again (first at row {self.seen[rid]})"]
            )
        self.seen[rid] = row.row_number
        prior = self.repo.find_source_record(self.batch.organisation, self.batch.source_list, rid)
        if prior is not None:
            return self._known(row, prior)
        try:
            with self.session.begin_nested():
                self._place(row)
        except DomainError as exc:
            problems = [f"{e['field']}: {e['problem']}" for e in exc.extra.get("errors", [])]
            self._reject(row, [exc.detail, *problems])

    def _place(self, row: ParsedRow) -> None:
        org, nhs = self.batch.organisation, row.values.get("nhs_number")
        case, rule = None, "new_case"
        if nhs:
            case, rule = self.repo.open_case_by_nhs_number(org, nhs), "nhs_number"
        elif row.match_key:
            case, rule = self.repo.open_case_by_match_key(org, row.match_key), "name_dob_postcode"
        entry: dict[str, Any] = {"row": row.row_number, "source_record_id": row.source_record_id}
        if case is None:
            case = self._open(row)
            self._record(row, case, "new_case")
            self.lists["accepted"].append({**entry, "case_id": case.id})
        else:
            fills, conflicts = _compare(case, row)
            self._fire(case, "update_details", {**fills, **self._link(row)}, None, "")
            record = self._record(row, case, rule)
            entry |= {"case_id": case.id, "match_rule": rule, "filled": sorted(fills)}
            if conflicts:
                items = [self._conflict(case, record, *c) for c in conflicts]
                fields = [
                    {
                        "field": i.field,
                        "current": i.current_value,
                        "incoming": i.incoming_value,
                        "item_id": i.id,
                    }
                    for i in items
                ]
                self.lists["conflicts"].append({**entry, "fields": fields})
            else:
                self.lists["merged"].append(entry)
        self.touched.add(case.id)

    def _open(self, row: ParsedRow) -> Case:
        referred = date.fromisoformat(row.values["referral_date"])
        at = start_of_day(referred)
        data = {k: row.values[k] for k in DETAIL_FIELDS if k in row.values} | self._link(row)
        why = self._why(row, f"referral date {referred} from the source list")
        cmd = OpenCommand(
            "chc",
            self.actor,
            self.batch.organisation,
            None,
            row.values.get("nhs_number"),
            data,
            at,
            why,
        )
        case = self.writer.open(self.session, cmd, now=self.now)
        if row.values.get("fast_track"):
            reason = f"Fast Track flagged on the {self.batch.source_list} list"
            self._fire(
                case, "fast_track", {"fast_track_reason": reason}, at, self._why(row, reason)
            )
        return case

    def _fire(
        self, case: Case, trigger: str, data: dict[str, Any], at: datetime | None, why: str
    ) -> None:
        cmd = Command(trigger, self.actor, data, at, why or None)
        self.writer.fire(self.session, case.id, cmd, now=self.now)

    def _why(self, row: ParsedRow, what: str) -> str:
        return (
            f"backlog import {self.batch.id}: {self.batch.source_list} row {row.row_number}; {what}"
        )

    def _link(self, row: ParsedRow) -> dict[str, Any]:
        return {"source_list": self.batch.source_list, "source_record_id": row.source_record_id}

    def _record(self, row: ParsedRow, case: Case, rule: str) -> ChcSourceRecord:
        record = ChcSourceRecord(
            import_id=self.batch.id,
            organisation=self.batch.organisation,
            source_list=self.batch.source_list,
            source_record_id=row.source_record_id,
            row_number=row.row_number,
            case_id=case.id,
            match_rule=rule,
            nhs_number=row.values.get("nhs_number"),
            match_key=row.match_key,
            values=dict(row.values),
            raw=dict(row.raw),
            recorded_at=self.now,
        )
        self.repo.add(record)
        return record

    def _conflict(
        self, case: Case, record: ChcSourceRecord, name: str, current: Any, incoming: Any
    ) -> ChcReconciliationItem:
        item = ChcReconciliationItem(
            organisation=case.organisation,
            case_id=case.id,
            source_record_pk=record.id,
            field=name,
            current_value=as_text(current),
            incoming_value=as_text(incoming) or "",
            status="open",
            resolution=None,
            resolution_note=None,
            resolved_by=None,
            resolved_at=None,
            created_at=self.now,
        )
        self.repo.add(item)
        return item

    def _known(self, row: ParsedRow, prior: ChcSourceRecord) -> None:
        changed = sorted(
            k for k in {*prior.values, *row.values} if prior.values.get(k) != row.values.get(k)
        )
        entry = {"row": row.row_number, "source_record_id": row.source_record_id}
        if not changed:
            self.lists["unchanged"].append({**entry, "case_id": prior.case_id})
            return
        self._reject(
            row,
            [
                f"record {prior.source_list}/{prior.source_record_id} was imported before "
                f"(import {prior.import_id}, row {prior.row_number}) with other values for: "
                f"{', '.join(changed)}; correct the case (case {prior.case_id}) or the source list",
            ],
        )

    def _reject(self, row: ParsedRow, reasons: list[str]) -> None:
        self.repo.add(
            ChcImportRejection(
                import_id=self.batch.id,
                row_number=row.row_number,
                source_record_id=row.source_record_id,
                raw=dict(row.raw),
                reasons=reasons,
                recorded_at=self.now,
            )
        )
        self.lists["rejected"].append(
            {"row": row.row_number, "source_record_id": row.source_record_id, "reasons": reasons}
        )

    def report(
        self, columns: dict[str, str], ignored: list[str], blank: list[int]
    ) -> dict[str, Any]:
        b = self.batch
        counts = {k: len(v) for k, v in self.lists.items() if k != "warnings"}
        return {
            "import_id": b.id,
            "source": b.source_list,
            "filename": b.filename,
            "sha256": b.sha256,
            "encoding": b.encoding,
            "imported_by": b.imported_by,
            "imported_at": b.imported_at.isoformat(),
            "already_imported": False,
            "rows_total": b.rows_total,
            "counts": counts,
            "columns": columns,
            "ignored_columns": ignored,
            "blank_rows": blank,
            **self.lists,
        }


def _compare(case: Case, row: ParsedRow) -> tuple[dict[str, Any], list[tuple[str, Any, Any]]]:
    """Blank facts to fill, and (field, current, incoming) for values that disagree."""
    fills: dict[str, Any] = {}
    conflicts: list[tuple[str, Any, Any]] = []
    for name in COMPARED:
        if name not in row.values:
            continue
        incoming = row.values[name]
        if name == "referral_date":
            current: Any = facts_of(case).referral_date.isoformat()
        else:
            current = case.attributes.get(name)
        if name == "fast_track":
            if bool(current) != incoming and (current is not None or incoming):
                conflicts.append((name, bool(current), incoming))
        elif current is None:
            fills[name] = incoming
        elif current != incoming:
            conflicts.append((name, current, incoming))
    return fills, conflicts
