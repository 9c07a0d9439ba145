"""Authentication (users, bearer tokens, the acting user `Actor`) and authorisation (need to
know: who reads what, `access`; the route dependencies that enforce it, `needs`)."""
