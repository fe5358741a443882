"""HTTPS and the client's address behind Heroku's router, on Heroku only. The router is the one proxy
(https://devcenter.heroku.com/articles/http-routing#heroku-headers): trusting one hop, a client cannot dodge the per-IP limit."""

from flask import Flask, Response, redirect, request
from werkzeug.middleware.proxy_fix import ProxyFix

# One year, the usual HSTS lifetime; not preloaded, and no includeSubDomains:
# the app does not own its parent domain (e.g. herokuapp.com).
HSTS = "max-age=31536000"


def redirect_to_https() -> Response | None:
    if request.scheme == "https":
        return None
    # 301 for reads; 308 keeps the method and body of a POST.
    code = 301 if request.method in ("GET", "HEAD") else 308
    return redirect(request.url.replace("http://", "https://", 1), code=code)


def add_hsts(response: Response) -> Response:
    if request.scheme == "https":
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def register(app: Flask) -> None:
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)  # type: ignore[method-assign]
    app.before_request(redirect_to_https)
    app.after_request(add_hsts)
