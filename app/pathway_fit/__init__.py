"""The pathway-fit audit (issue 19, item 5): by discharge pathway, where people were 91 days
later and who came back to intermediate care, with the discharges that may have used a more
intensive setting than needed flagged for review. LOCAL measures (README "Pathway-fit audit").

`derive` is pure (plain records in, figures out); `repository` reads the records; `service`
joins them; `routes` (API) and `app.web.pathway_fit_page` (the manager's screen) are thin."""
