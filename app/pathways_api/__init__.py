"""Read-only views of the loaded pathways."""
