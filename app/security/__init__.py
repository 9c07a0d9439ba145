"""Transport-level protection: body size cap, per-token rate limit, security headers, CORS,
and the problem responses the OpenAPI schema documents. All pure ASGI (no BaseHTTPMiddleware);
`app.security.install.install_security` wires them into the application.
"""
