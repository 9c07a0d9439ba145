"""User management for administrators, over HTTP (the CLI does the same on the server)."""
