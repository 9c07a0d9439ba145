"""`/dashboard/pathway-fit`: the pathway-fit audit for managers (issue 19, item 5).

The same figures as `GET /api/v1/pathway-fit`, by discharge pathway, for a period and site;
each count links to the discharges behind it (as `GET /api/v1/pathway-fit/patients`), each of
those to its case. Reading needs `pathway_fit.read`; NHS numbers only for a grant with
identifiers; every list of patients shown is in the access audit.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from app.api_shared import log_read
from app.cases.schemas import CODE_PATTERN
from app.deps import SessionDep
from app.pathway_fit import service
from app.pathway_fit.config import PathwayFitConfig
from app.pathway_fit.derive import OUTCOMES
from app.pathway_fit.schemas import PatientFitList
from app.timeutil import LONDON, utcnow
from app.web.access import PageUser, page_needs
from app.web.templating import render

router = APIRouter(include_in_schema=False)
READ = "pathway_fit.read"
PATH = "/dashboard/pathway-fit"
OUTCOME_WORDS = {
    "died": "Died",
    "readmitted": "Readmitted",
    "care_home": "Care home",
    "still_at_home": "Still at home",
    "not_at_home": "Not at home",
    "not_contactable": "Not contactable",
    "no_later_record": "No later record",
    "pending": "Pending (91 days not passed)",
}
assert set(OUTCOME_WORDS) == set(OUTCOMES)  # noqa: S101 - every outcome has words
# An outcome, or the two other figures of a row ("" for every discharge of the row).
OUTCOME_PATTERN = "^(" + "|".join([*OUTCOMES, "possibly_more_intensive", "re_referred"]) + ")?$"


@router.get(PATH, response_class=HTMLResponse)
def pathway_fit_page(
    request: Request,
    user: Annotated[PageUser, page_needs(READ)],
    db: SessionDep,
    date_from: Annotated[date | None, Query(alias="from")] = None,
    date_to: Annotated[date | None, Query(alias="to")] = None,
    site: Annotated[str | None, Query(pattern="^$|" + CODE_PATTERN)] = None,  # "": every site
    pathway: Annotated[str | None, Query(pattern="^(P0|P1|P2|P3|P3b|unknown|all)$")] = None,
    outcome: Annotated[str | None, Query(pattern=OUTCOME_PATTERN)] = None,
) -> Response:
    assert user.grant is not None  # noqa: S101 - page_needs(READ) gives one
    now = utcnow()
    config: PathwayFitConfig = request.app.state.pathway_fit_config
    chosen = service.choose_period(date_from, date_to, site, now.astimezone(LONDON).date())
    fits = service.patient_fits(
        db, config=config, organisation=user.actor.organisation, period=chosen, now=now
    )
    report = service.report(fits, config, chosen, now)
    base = {"from": chosen.date_from.isoformat(), "to": chosen.date_to.isoformat()}
    if chosen.site:
        base["site"] = chosen.site
    patients = None
    if pathway is not None or outcome is not None:
        wanted = outcome if outcome in OUTCOMES else None
        more = True if outcome == "possibly_more_intensive" else None
        again = True if outcome == "re_referred" else None
        items = service.patient_rows(
            fits,
            pathway=None if pathway in (None, "all") else pathway,
            outcome=wanted,
            more_intensive=more,
            re_referred=again,
        )
        log_read(request, db, user.actor, [i.case_id for i in items])
        patients = user.grant.reduce(
            PatientFitList(
                as_of=now,
                date_from=chosen.date_from,
                date_to=chosen.date_to,
                site=chosen.site,
                pathway=pathway,
                outcome=outcome,
                items=items,
            )
        ).items

    def link(row_pathway: str, what: str) -> str:
        return f"{PATH}?{urlencode({**base, 'pathway': row_pathway, 'outcome': what})}#patients"

    return render(
        request,
        "pathway_fit.html",
        actor=user.actor,
        page_title="Pathway-fit audit",
        report=report,
        rows=[r for r in report.pathways if r.discharges] + [report.total],
        outcomes=OUTCOME_WORDS,
        link=link,
        query=base,
        pathway=pathway,
        outcome=outcome,
        outcome_words=OUTCOME_WORDS.get(outcome or "", (outcome or "").replace("_", " ")),
        patients=patients,
        api_url="/api/v1/pathway-fit?" + urlencode(base),
        csv_url="/api/v1/pathway-fit?" + urlencode({**base, "format": "csv"}),
        patients_csv_url="/api/v1/pathway-fit/patients?" + urlencode({**base, "format": "csv"}),
        as_of=now.astimezone(LONDON).strftime("%a %d %b %Y %H:%M"),
    )
