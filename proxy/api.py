"""``/api/v1``: the connector's actions as a JSON API for bearer tokens (the CLI, Claude's
code-execution sandbox), with its OpenAPI document at ``/api/v1/openapi.json``.

Authentication: ``Authorization: Bearer <access token>`` from the proxy's OAuth server (the same
tokens ``/mcp`` takes, bound to this server); ``GET`` requests also accept the browser session.
Errors are ``{"error": <code>, "message": <text>}`` with the matching status (proxy/errors.py)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from builder.errors import BadInput, SkillportError
from proxy.connector import run_action
from proxy.errors import error_response, json_error
from proxy.oauth import www_authenticate
from proxy.services import Services
from proxy.session import Member
from proxy.tool_spec import TOOL_SCHEMA

PREFIX = "/api/v1"
MAX_JSON_BYTES = 40 * 1024 * 1024

Handler = Callable[[Request], Awaitable[Response]]


class Api:
    def __init__(self, services: Services) -> None:
        self.state = services

    async def _member(self, request: Request) -> Member | None:
        """A bearer token; the session cookie only on GET without an ``Authorization`` header (a
        cross-site form cannot POST as the member, T16)."""
        cookie = request.method == "GET" and "authorization" not in request.headers
        return await self.state.authenticate(request, cookie=cookie)

    def _unauthorized(self) -> Response:
        return json_error(
            401,
            "send Authorization: Bearer <token> (sign in with `skillport login` "
            "or the OAuth flow described at the resource metadata)",
            headers={"WWW-Authenticate": www_authenticate(self.state.oauth.config)},
        )

    async def _body(self, request: Request) -> dict[str, Any]:
        if request.method in ("GET", "DELETE"):
            return {}
        if not request.headers.get("content-type", "").startswith("application/json"):
            raise _UnsupportedMedia
        raw = await request.body()
        if len(raw) > MAX_JSON_BYTES:
            raise BadInput("request body too large")
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadInput(f"request body is not valid JSON: {exc}") from exc
        except RecursionError as exc:  # e.g. 200,000 nested "[" (T58)
            raise BadInput("request body is nested too deeply; send a flat JSON object") from exc
        if not isinstance(body, dict):
            raise BadInput("request body must be a JSON object")
        return body

    def endpoint(self, action: str | None, fields: Callable[[Request], dict[str, Any]]) -> Handler:
        async def handle(request: Request) -> Response:
            try:
                member = await self._member(request)
                if member is None:
                    return self._unauthorized()
                body = await self._body(request)
                args = {**body, **fields(request)}
                if action is not None:
                    args["action"] = action
                ip = request.client.host if request.client else None
                result = await run_action(self.state, member, args, ip=ip, via="api")
            except _UnsupportedMediaError:
                return json_error(415, "send the body as application/json")
            except SkillportError as exc:
                return error_response(request, exc)
            return JSONResponse(result, headers={"Cache-Control": "private, no-store"})

        return handle


class _UnsupportedMediaError(Exception):
    pass


_UnsupportedMedia = _UnsupportedMediaError()


def _q(request: Request, *names: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in names:
        value = request.query_params.get(name)
        if value is not None:
            out[name] = value
    if "limit" in out:
        try:
            out["limit"] = int(out["limit"])
        except ValueError:
            out["limit"] = -1
    if "confirm" in out:
        out["confirm"] = out["confirm"].lower() in ("1", "true", "yes")
    return out


def _skill(request: Request, *names: str) -> dict[str, Any]:
    return {"skill": request.path_params["name"], **_q(request, *names)}


def openapi(public_url: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of this API."""
    err = {
        "description": "error",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    ok = {
        "description": "compact JSON result",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
    common = {"200": ok, "400": err, "401": err, "403": err, "404": err}

    def op(
        summary: str,
        params: tuple[str, ...] = (),
        body: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        d: dict[str, Any] = {"summary": summary, "responses": {**common, **(extra or {})}}
        ps = [
            {
                "name": p,
                "in": "path" if p == "name" else "query",
                "required": p == "name",
                "schema": {"type": "integer"}
                if p == "limit"
                else {"type": "boolean"}
                if p == "confirm"
                else {"type": "string"},
            }
            for p in params
        ]
        if ps:
            d["parameters"] = ps
        if body is not None:
            d["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
        return d

    installed = {
        "type": "object",
        "properties": {
            "installed": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "version": {"type": "string"}},
                    "required": ["name", "version"],
                },
            }
        },
        "required": ["installed"],
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Skillport API",
            "version": "1",
            "description": "Your organization's private Claude Skills: the actions of the `skillport` tool.",
        },
        "servers": [{"url": public_url.rstrip("/") + PREFIX}],
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An access token from this server's OAuth 2.1 flow",
                }
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "message"],
                    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
                }
            },
        },
        "security": [{"bearer": []}],
        "paths": {
            "/help": {"get": op("What Skillport does and how to install the skillport skill")},
            "/whoami": {"get": op("The signed-in member and the plugins they may read and edit")},
            "/search": {"get": op("Search skills (ranked)", ("query", "tag", "limit"))},
            "/skills/{name}": {
                "get": op("A skill's metadata, files and SKILL.md", ("name",)),
                "delete": op(
                    "Delete a skill (editors; confirm=true)", ("name", "confirm"), extra={"501": err}
                ),
            },
            "/skills/{name}/install": {
                "get": op("Download link and steps for a surface", ("name", "surface"))
            },
            "/skills/{name}/bump": {
                "post": op(
                    "Bump a skill's version (editors)",
                    ("name",),
                    {
                        "type": "object",
                        "properties": {
                            "part": {"enum": ["patch", "minor", "major"]},
                            "note": {"type": "string", "maxLength": 200},
                        },
                    },
                    extra={"501": err},
                )
            },
            "/skills/{name}/publish": {
                "post": op(
                    "Create or update a skill (editors)",
                    ("name",),
                    {
                        "type": "object",
                        "properties": {
                            "plugin": {"type": "string"},
                            "files": {"type": "object", "additionalProperties": {"type": "string"}},
                            "zip": {"type": "string", "contentEncoding": "base64"},
                        },
                    },
                    extra={"501": err},
                )
            },
            "/updates": {"post": op("Which installed skills have newer versions", body=installed)},
            "/actions": {
                "post": op("Any action with the tool's arguments (unknown ones refused)", body=TOOL_SCHEMA)
            },
        },
    }


def api_routes(services: Services) -> list[BaseRoute]:
    """Routes under ``/api/v1`` (bearer tokens; GET also with the session cookie)."""
    api = Api(services)
    document = openapi(services.oauth.config.public_url)

    async def openapi_endpoint(request: Request) -> Response:
        return JSONResponse(document, headers={"Cache-Control": "public, max-age=300"})

    def none(request: Request) -> dict[str, Any]:
        return {}

    return [
        Route(PREFIX + "/openapi.json", openapi_endpoint, methods=["GET"]),
        Route(PREFIX + "/help", api.endpoint("help", none), methods=["GET"]),
        Route(PREFIX + "/whoami", api.endpoint("whoami", none), methods=["GET"]),
        Route(
            PREFIX + "/search",
            api.endpoint("search", lambda r: _q(r, "query", "tag", "limit")),
            methods=["GET"],
        ),
        Route(PREFIX + "/skills/{name}", api.endpoint("get", lambda r: _skill(r)), methods=["GET"]),
        Route(
            PREFIX + "/skills/{name}",
            api.endpoint("delete", lambda r: _skill(r, "confirm")),
            methods=["DELETE"],
        ),
        Route(
            PREFIX + "/skills/{name}/install",
            api.endpoint("install", lambda r: _skill(r, "surface")),
            methods=["GET"],
        ),
        Route(PREFIX + "/skills/{name}/bump", api.endpoint("bump", lambda r: _skill(r)), methods=["POST"]),
        Route(
            PREFIX + "/skills/{name}/publish", api.endpoint("publish", lambda r: _skill(r)), methods=["POST"]
        ),
        Route(PREFIX + "/updates", api.endpoint("updates", none), methods=["POST"]),
        Route(PREFIX + "/actions", api.endpoint(None, none), methods=["POST"]),
    ]
