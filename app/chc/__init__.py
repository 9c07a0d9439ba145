"""NHS Continuing Healthcare: Checklist to review, the merged backlog, RAG triage and the
assessor work queue."""
