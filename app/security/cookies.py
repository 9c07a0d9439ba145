"""Names of the cookies the service sets (the rate limiter buckets a signed-in page by it)."""

# The managers' dashboard sign-in: an opaque server-side session reference.
DASHBOARD_COOKIE = "homefirst_dashboard"
