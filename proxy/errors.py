"""Errors -> HTTP, in one place: friendly HTML for browsers, JSON for API clients.

``Unauthorized`` -> 401 + ``WWW-Authenticate`` (always JSON); ``BadInput`` family -> 4xx
(``NotFound`` 404, ``PermissionDenied`` 403, ``Conflict`` 409, others 400); ``NotConfigured`` -> 501;
``UpstreamError`` family -> 503 (identity provider / origin / Git remote). Messages are redacted (T21).

Every JSON error the proxy writes has ONE shape, ``{"error": <code>, "message": <text>}``
(``json_error``); only the OAuth endpoints answer in the OAuth specs' own shape.
"""

from __future__ import annotations

import html

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

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
from proxy.pages import Action, look_of, paragraph, render


class Unauthorized(SkillportError):
    """No (acceptable) credentials: 401 with ``challenge`` as the ``WWW-Authenticate`` header."""

    code = "unauthorized"

    def __init__(self, message: str, *, challenge: str) -> None:
        super().__init__(message)
        self.challenge = challenge


class InvalidToken(Unauthorized):
    """A bearer token that does not verify here (expired, revoked, another server's, T33)."""

    code = "invalid_token"


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
    if isinstance(exc, Unauthorized):
        return 401
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
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    416: "range_not_satisfiable",
    500: "server_error",
    501: "not_configured",
    503: "unavailable",
}


def error_code(status: int) -> str:
    """The machine-readable ``error`` of a JSON error body for ``status``."""
    return ERROR_CODES.get(status, "error")


def json_error(
    status: int, message: str, *, code: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The one JSON error body: ``{"error": <code>, "message": <text>}``, never cached."""
    return JSONResponse(
        {"error": code or error_code(status), "message": message},
        status_code=status,
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


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


NEXT_STEPS = {
    SignInRefused: "Sign out, then pick the account your organization gave you at the sign-in page. "
    "If you have no such account, ask your catalog's administrators for access.",
    SignInFailed: "Start again from the catalog; signing in usually works on the second try.",
    IdentityProviderUnavailable: "Your organization's sign-in service did not answer. Wait a minute and "
    "try again; if it keeps failing, tell your catalog's administrators.",
}


def next_step(exc: BaseException) -> str:
    for cls, text in NEXT_STEPS.items():
        if isinstance(exc, cls):
            return text
    return {
        404: "Check the address, or find the skill from the catalog's home page or its search. "
        "If someone sent you this link, the page may have moved or you may not have access to it.",
        403: "If you think you should have access, ask your catalog's administrators.",
        503: "This is usually temporary: try again in a minute.",
    }.get(status_for(exc), "Go back to the catalog and try again.")


def actions_for(exc: BaseException) -> tuple[Action, ...]:
    if isinstance(exc, SignInFailed | IdentityProviderUnavailable):
        return (Action("Try signing in again", "/login"),)
    if isinstance(exc, SignInRefused):
        return (Action("Sign out", "/logout", post=True),)
    return (Action("Go to the catalog", "/"),)


def wants_html(request: Request) -> bool:
    """Only a client that asks for HTML (a browser) gets pages and sign-in redirects; ``curl``,
    Claude Code and scripts (``Accept: */*``, JSON, or nothing) get JSON errors and 401s instead."""
    if request.url.path.startswith(("/api/", "/mcp", "/token", "/register")):
        return False
    return "text/html" in request.headers.get("accept", "").lower()


def wants_json(request: Request) -> bool:
    """API clients and anything that did not ask for HTML get JSON errors and 401s."""
    return not wants_html(request)


def error_response(request: Request, exc: SkillportError) -> Response:
    status = status_for(exc)
    message = redact(str(exc)) or title_for(exc)
    if isinstance(exc, Unauthorized):
        return json_error(status, message, code=exc.code, headers={"WWW-Authenticate": exc.challenge})
    if wants_json(request):
        return json_error(status, message)
    body = [
        paragraph(message[:1].upper() + message[1:]),
        f'<p class="sp-note">{html.escape(next_step(exc))}</p>',
    ]
    return render(look_of(request), title_for(exc), body, actions=actions_for(exc), status=status)


async def unexpected_error_handler(request: Request, exc: Exception) -> Response:
    """A bug (500): no details (they may hold secrets, T21); the traceback goes to the server log."""
    if wants_json(request):
        return json_error(500, "something went wrong on the server; try again")
    body = [
        paragraph("Something went wrong on the server while answering this page."),
        '<p class="sp-note">Try again in a moment. If it keeps happening, tell your catalog\'s '
        "administrators what you were doing and when.</p>",
    ]
    return render(look_of(request), "Something went wrong", body, status=500)


async def skillport_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SkillportError)
    return error_response(request, exc)
