"""Response headers that keep browsers from misusing our pages."""

from flask import Flask, Response

# No inline scripts or styles: the status page's script is a static file.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
# rq-dashboard's pages need inline scripts and styles and underscore templates (new Function):
# allowed under /rq only, behind the credentials.
DASHBOARD_CONTENT_SECURITY_POLICY = (
    f"{CONTENT_SECURITY_POLICY}; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'"
)


def register(app: Flask) -> None:
    @app.after_request
    def add_security_headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response
