"""Placing each row of a source list on the single working list (docs/domain.md §7.10).

Matching: NHS number first; a row without one on name, date of birth and postcode. A new person
opens a case through the engine, backdated to the list's referral date with a reason. A known
person gets one `update_details` event that links the row and fills blank facts; values that
disagree become reconciliation items. Every row lands in exactly one list of the report.
Rows are placed in batches (`ListMerger.place`), each in one transaction of the import job.
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
from app.models import Case, ChcImport, ChcReconciliationItem, ChcSourceRecord

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


KINDS = ("accepted", "merged", "conflicts", "rejected", "unchanged", "warnings")


@dataclass
class ListMerger:
    """Places the rows of one list, a batch at a time, all in the caller's transaction.

    A batch looks up what it needs in bulk (rows of this list imported before; open cases of
    the people it names) and opens the cases of new people together (`CaseWriter.open_batch`):
    a few statements per batch instead of a dozen per row. A row that merges into a case, or
    flags Fast Track, is placed on its own (as before), after the batch's new cases are written.
    `seen` (record id -> first row) spans the whole file, so a record id that appears twice is
    found across batches; a resumed import rebuilds it with `remember`.
    """

    session: Session
    repo: ChcRepository
    writer: CaseWriter
    actor: Actor
    batch: ChcImport
    now: datetime
    seen: dict[str, int] = field(default_factory=dict)
    lists: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def remember(self, row: ParsedRow) -> None:
        """A row before the checkpoint (done by an earlier run): only what `seen` needs."""
        rid = row.source_record_id
        if not row.problems and rid is not None and rid not in self.seen:
            self.seen[rid] = row.row_number

    def place(self, rows: list[ParsedRow]) -> dict[str, list[dict[str, Any]]]:
        """Every row lands in exactly one list (warnings besides); the lists, in row order."""
        self.lists = {k: [] for k in KINDS}
        self._opener = self.writer.open_batch(self.session, now=self.now)
        self._records: list[dict[str, Any]] = []
        self._rejections: list[dict[str, Any]] = []
        candidates: list[ParsedRow] = []
        for row in rows:
            rid = row.source_record_id
            for warning in row.warnings:
                self.lists["warnings"].append({"row": row.row_number, "text": warning})
            if row.problems or rid is None:
                self._reject(row, row.problems or ["the source record id is missing"])
            elif rid in self.seen:
                self._reject(
                    row, [f"record id {rid} appears again (first at row {self.seen[rid]})"]
                )
            else:
                self.seen[rid] = row.row_number
                candidates.append(row)
        org, source = self.batch.organisation, self.batch.source_list
        priors = self.repo.source_records_by_id(
            org, source, [r.source_record_id for r in candidates if r.source_record_id]
        )
        new = [r for r in candidates if r.source_record_id not in priors]
        self._by_nhs: dict[str, Case] = self.repo.open_cases_by_nhs_numbers(
            org, {str(r.values["nhs_number"]) for r in new if r.values.get("nhs_number")}
        )
        self._by_key: dict[str, Case] = self.repo.open_cases_by_match_keys(
            org, {r.match_key for r in new if not r.values.get("nhs_number") and r.match_key}
        )
        for row in candidates:
            prior = priors.get(row.source_record_id or "")
            if prior is not None:
                self._known(row, prior)
            else:
                self._row(row)
        self._write()
        self.repo.add_rejections(self._rejections)
        for entries in self.lists.values():
            entries.sort(key=lambda e: int(e["row"]))
        return self.lists

    def _row(self, row: ParsedRow) -> None:
        nhs = row.values.get("nhs_number")
        case, rule = None, "new_case"
        if nhs:
            case, rule = self._by_nhs.get(nhs), "nhs_number"
        elif row.match_key:
            case, rule = self._by_key.get(row.match_key), "name_dob_postcode"
        if case is None:
            try:
                case = self._opener.open(self._open_command(row))
            except DomainError as exc:
                return self._refused(row, exc)
            self._records.append(self._record_row(row, case, "new_case"))
            self.lists["accepted"].append(
                {
                    "row": row.row_number,
                    "source_record_id": row.source_record_id,
                    "case_id": case.id,
                }
            )
            self._found(row, case)
            return None
        self._write()  # the batch's new cases are in the database before a row works on one
        try:
            with self.session.begin_nested():
                placed = self._place(row, case, rule)
        except DomainError as exc:
            return self._refused(row, exc)
        self._found(row, placed)
        return None

    def _write(self) -> None:
        self._opener.write()
        self.repo.add_source_records(self._records)
        self._records = []

    def _found(self, row: ParsedRow, case: Case) -> None:
        """Later rows of the batch find this case as a query would: the oldest open case."""
        nhs = row.values.get("nhs_number")
        for known, key in ((self._by_nhs, nhs), (self._by_key, row.match_key)):
            if key and (key not in known or known[key].id >= case.id):
                known[key] = case

    def _refused(self, row: ParsedRow, exc: DomainError) -> None:
        problems = [f"{e['field']}: {e['problem']}" for e in exc.extra.get("errors", [])]
        self._reject(row, [exc.detail, *problems])

    def _place(self, row: ParsedRow, case: Case | None, rule: str) -> Case:
        entry: dict[str, Any] = {"row": row.row_number, "source_record_id": row.source_record_id}
        if case is None:
            case = self._open(row)
            self._record(row, case, "new_case")
            self.lists["accepted"].append({**entry, "case_id": case.id})
            return case
        fills, conflicts = _compare(case, row)
        case = self._fire(case, "update_details", {**fills, **self._link(row)}, None, "")
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
        return case

    def _open_command(self, row: ParsedRow) -> OpenCommand:
        referred = date.fromisoformat(row.values["referral_date"])
        data = {k: row.values[k] for k in DETAIL_FIELDS if k in row.values} | self._link(row)
        if row.values.get("fast_track"):
            # A list's flag is not a completed Fast Track Pathway Tool: that needs the appropriate
            # clinician and their registration. The flag is kept and rated red until someone
            # records the Fast Track (pathways/config/chc-rag.yaml).
            data["fast_track_flagged"] = True
        why = self._why(row, f"referral date {referred} from the source list")
        return OpenCommand(
            "chc",
            self.actor,
            self.batch.organisation,
            None,
            row.values.get("nhs_number"),
            data,
            start_of_day(referred),
            why,
        )

    def _open(self, row: ParsedRow) -> Case:
        return self.writer.open(self.session, self._open_command(row), now=self.now)

    def _fire(
        self, case: Case, trigger: str, data: dict[str, Any], at: datetime | None, why: str
    ) -> Case:
        cmd = Command(trigger, self.actor, data, at, why or None)
        return self.writer.fire(self.session, case.id, cmd, now=self.now).case

    def _why(self, row: ParsedRow, what: str) -> str:
        return (
            f"backlog import {self.batch.id}: {self.batch.source_list} row {row.row_number}; {what}"
        )

    def _link(self, row: ParsedRow) -> dict[str, Any]:
        return {"source_list": self.batch.source_list, "source_record_id": row.source_record_id}

    def _record_row(self, row: ParsedRow, case: Case, rule: str) -> dict[str, Any]:
        return {
            "import_id": self.batch.id,
            "organisation": self.batch.organisation,
            "source_list": self.batch.source_list,
            "source_record_id": row.source_record_id,
            "row_number": row.row_number,
            "case_id": case.id,
            "match_rule": rule,
            "nhs_number": row.values.get("nhs_number"),
            "match_key": row.match_key,
            "values": dict(row.values),
            "raw": dict(row.raw),
            "recorded_at": self.now,
        }

    def _record(self, row: ParsedRow, case: Case, rule: str) -> ChcSourceRecord:
        record = ChcSourceRecord(**self._record_row(row, case, rule))
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
        self._rejections.append(
            {
                "import_id": self.batch.id,
                "row_number": row.row_number,
                "source_record_id": row.source_record_id,
                "raw": dict(row.raw),
                "reasons": reasons,
                "recorded_at": self.now,
            }
        )
        self.lists["rejected"].append(
            {"row": row.row_number, "source_record_id": row.source_record_id, "reasons": reasons}
        )


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
        elif name == "fast_track":
            # On Fast Track, or flagged for it by a list (pathway v2 and later).
            current = case.attributes.get("fast_track") or case.attributes.get("fast_track_flagged")
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
