"""FHIR R4 out (UK Core): HomeFirst's cases read as Encounter, EpisodeOfCare, Task and Flag.

Read and search only, under `/fhir/R4`, with the API's authentication, organisation scope,
need-to-know grant (`fhir.read`) and access audit. Every resource is built and validated with
`fhir.resources` (R4B models, R4-compatible for these resources) before it is sent. The router is
mounted by `app.fhir.install.install_fhir`, called from the application factory.
"""
