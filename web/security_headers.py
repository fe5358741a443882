"""Response headers that keep browsers from misusing our pages."""

from flask import Flask, Response

# No inline scripts or styles: the status page's script is a static file.
POLICY = [
    "default-src 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
]
CONTENT_SECURITY_POLICY = "; ".join(POLICY)
# rq-dashboard's pages use inline scripts, underscore templates (new
# Function) and inline styles, which the app's own policy forbids. Under /rq
# only, behind the credentials, allow those; everything else stays as strict.
DASHBOARD_CONTENT_SECURITY_POLICY = "; ".join(
    [*POLICY, "script-src 'self' 'unsafe-inline' 'unsafe-eval'", "style-src 'self' 'unsafe-inline'"]
)


def register(app: Flask) -> None:
    @app.after_request
    def add_security_headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response
