"""Errors -> HTTP, in one place: friendly HTML for browsers, JSON for API clients.

``BadInput`` family -> 4xx (``NotFound`` 404, ``PermissionDenied`` 403, ``Conflict`` 409, others 400);
``NotConfigured`` -> 501; ``UpstreamError`` family -> 503 (identity provider / origin / Git remote).
Messages are redacted (T21).
"""

from __future__ import annotations

import html

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from builder.errors import (
    BadInput,
    Conflict,
    NotConfigured,
    NotFound,
    PermissionDenied,
    SkillportError,
    UpstreamError,
)
from proxy.audit import redact


class SignInRefused(PermissionDenied):
    """Signed in at the identity provider, but not allowed into this organization's catalog."""


class SignInFailed(PermissionDenied):
    """The sign-in round trip was broken (state, code, token checks)."""


class IdentityProviderUnavailable(UpstreamError):
    """The identity provider could not be reached in time."""


class PayloadTooLarge(BadInput):
    """The request body is larger than SKILLPORT_MAX_BODY_BYTES."""


class RangeNotSatisfiable(BadInput):
    """A Range header the proxy will not serve."""


def status_for(exc: BaseException) -> int:
    if isinstance(exc, PayloadTooLarge):
        return 413
    if isinstance(exc, RangeNotSatisfiable):
        return 416
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, PermissionDenied):
        return 403
    if isinstance(exc, Conflict):
        return 409
    if isinstance(exc, BadInput):
        return 400
    if isinstance(exc, NotConfigured):
        return 501
    if isinstance(exc, UpstreamError):
        return 503
    return 500


ERROR_CODES = {
    400: "bad_request",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    413: "too_large",
    416: "range_not_satisfiable",
    501: "not_configured",
    503: "unavailable",
}


def error_code(status: int) -> str:
    """The machine-readable ``error`` of a JSON error body for ``status``."""
    return ERROR_CODES.get(status, "error")


TITLES = {
    SignInRefused: "Not in your organization",
    SignInFailed: "Sign-in did not complete",
    IdentityProviderUnavailable: "Sign-in is unavailable right now",
}


def title_for(exc: BaseException) -> str:
    for cls, title in TITLES.items():
        if isinstance(exc, cls):
            return title
    return {
        404: "Not found",
        403: "Not allowed",
        413: "Too large",
        416: "Range not satisfiable",
        400: "Bad request",
        503: "Temporarily unavailable",
    }.get(status_for(exc), "Error")


def html_page(
    title: str, message: str, *, status: int, action: tuple[str, str] | None = None
) -> HTMLResponse:
    """A small self-contained page (no scripts, no external resources)."""
    link = f'<p><a href="{html.escape(action[0])}">{html.escape(action[1])}</a></p>' if action else ""
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)} · Skillport</title>"
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        "<style>body{font-family:system-ui,sans-serif;max-width:38rem;margin:4rem auto;padding:0 1rem;"
        "color:#222}h1{font-size:1.5rem}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>{link}</body></html>"
    )
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def wants_json(request: Request) -> bool:
    """API clients (``/api/``, ``/mcp``, or asking for JSON rather than HTML) get JSON errors and 401s."""
    path = request.url.path
    if path.startswith(("/api/", "/mcp", "/token", "/register")):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def error_response(request: Request, exc: SkillportError) -> Response:
    status = status_for(exc)
    message = redact(str(exc)) or title_for(exc)
    if wants_json(request):
        return JSONResponse(
            {"error": title_for(exc), "detail": message},
            status_code=status,
            headers={"Cache-Control": "no-store"},
        )
    action = None
    if isinstance(exc, SignInFailed | IdentityProviderUnavailable):
        action = ("/login", "Try signing in again")
    elif isinstance(exc, SignInRefused):
        action = ("/logout", "Sign out and use your organization account")
    return html_page(title_for(exc), message, status=status, action=action)


async def skillport_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SkillportError)
    return error_response(request, exc)
