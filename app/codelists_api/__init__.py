"""Read-only views of the versioned code lists over HTTP (no patient data)."""
