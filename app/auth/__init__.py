"""Authentication: users, bearer tokens and the acting user (`Actor`)."""
