"""``create_app(settings)``: the proxy's routes, middleware and lifespan.

Members-only catalog (pages, index, zips, well-known tree) behind sign-in, filtered per member;
``/d/<token>`` signed download links; ``/healthz`` and ``/readyz``; the connector's OAuth, API and
``/mcp`` pieces. Browsers without a session are sent to sign in; API clients get 401.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from builder.contract.index import IndexDocument
from builder.errors import NotFound, PermissionDenied, SkillportError, UpstreamError
from proxy.access import AccessRules
from proxy.api import api_routes
from proxy.bearer import VIA_KEY
from proxy.compress import GzipCache, compressed
from proxy.connector import build_mcp
from proxy.errors import (
    RangeNotSatisfiable,
    json_error,
    skillport_error_handler,
    unexpected_error_handler,
    wants_json,
)
from proxy.identity import ACCOUNT_MARKER, Member, account_bar, client_ip, identity_routes
from proxy.inert import inert_file, is_skill_file
from proxy.oauth import oauth_routes, www_authenticate
from proxy.origin import check_zip, safe_path
from proxy.pages import look_from_home
from proxy.publisher import SiteBuild
from proxy.security import SecurityMiddleware
from proxy.services import Services, services_of
from proxy.settings import Settings
from proxy.views import FILES

PRIVATE = "private, no-cache"
SERVED_WELL_KNOWN = ".well-known/agent-skills/"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
AUDITED_PATHS = frozenset({"claude-code/marketplace.json"})  # read by Claude Code with a bearer token
FILTERED_JSON = frozenset(FILES)  # served as per-access views (proxy/views.py)


def _now() -> datetime:
    return datetime.now(UTC)


class IndexRefresh:
    """Before each request, let the index store look for a newer index (rate-limited inside)."""

    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app = app
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in ("/healthz",):
            await self.services.index.refresh(now=_now())
            await self._relook()
        await self.app(scope, receive, send)

    async def _relook(self) -> None:
        """The proxy's own pages copy the catalog's name and palette from its home page, re-read
        whenever a new index is trusted (proxy/pages.py)."""
        serial = self.services.index.serial
        cache = self.services.look
        if serial is None or cache.serial == serial:
            return
        cache.serial = serial
        try:
            home = await self.services.origin.read("index.html")
        except UpstreamError:
            return
        if home is not None:
            cache.look = look_from_home(home.decode("utf-8", "replace"))


def unauthenticated(request: Request, services: Services) -> Response:
    """Browsers (they ask for ``text/html``): 302 to sign-in and back; everything else — API
    clients, ``curl``, Claude Code, scripts — 401 + ``WWW-Authenticate``, so ``curl -f`` fails
    loudly instead of saving a sign-in page (T25)."""
    if wants_json(request):
        return json_error(
            401, "sign in first", headers={"WWW-Authenticate": www_authenticate(services.oauth.config)}
        )
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(
        "/login?next=" + quote(target, safe=""), status_code=302, headers={"Cache-Control": "no-store"}
    )


def ranged(request: Request, data: bytes, media_type: str, headers: dict[str, str]) -> Response:
    """The whole body, or one satisfiable byte range of it; anything else is 416 (T24)."""
    header = request.headers.get("range")
    headers = {**headers, "Accept-Ranges": "bytes"}
    if header is None:
        return Response(data, media_type=media_type, headers=headers)
    match = _RANGE.match(header.strip()) if len(header) < 100 else None
    if match is None or (not match.group(1) and not match.group(2)):
        raise RangeNotSatisfiable("only one byte range is served, like Range: bytes=0-1023")
    size = len(data)
    if match.group(1):
        start = int(match.group(1))
        end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
    else:
        start, end = max(size - int(match.group(2)), 0), size - 1
    if start >= size or start > end:
        raise RangeNotSatisfiable("the requested range is outside the file")
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return Response(data[start : end + 1], status_code=206, media_type=media_type, headers=headers)


class Site:
    """Serves the built site to signed-in members, filtered by their access."""

    def __init__(self, services: Services) -> None:
        self.state = services
        settings = services.settings
        self.gzip = GzipCache(settings.view_cache_bytes // 4, settings.view_cache_entries)

    def _ready(self) -> tuple[IndexDocument, AccessRules]:
        doc = self.state.index.current()
        if doc is None:
            raise UpstreamError("the catalog is temporarily unavailable (no valid index); try again soon")
        self.state.views.bind(doc)  # before any await: views of an older index are dropped
        return doc, self.state.access.for_index(doc)

    async def page(self, request: Request) -> Response:
        """A catalog path for a signed-in member: filtered for them, then gzip-encoded when the
        browser accepts it and the response may be (proxy/compress.py)."""
        return await compressed(request, await self._page(request), self.gzip)

    async def _page(self, request: Request) -> Response:
        raw = request.path_params.get("path", "")
        path = safe_path(raw)
        if path.startswith(".well-known/") and not path.startswith(SERVED_WELL_KNOWN):
            # discovery probes (OAuth, OpenID, ...) get a plain 404, never the sign-in redirect
            return json_error(404, "no such document")
        # a bearer token (Claude Code's marketplace by URL with a header) or the session cookie
        member = await self.state.authenticate(request)
        if member is None:
            return unauthenticated(request, self.state)
        if request.scope.get(VIA_KEY) == "bearer" and path in AUDITED_PATHS and request.method == "GET":
            self.state.audit.record(
                "catalog-read", member=member, ip=client_ip(request), path=path, via="bearer"
            )
        doc, rules = self._ready()
        if path == "" or raw.endswith("/"):
            path = f"{path}/index.html" if path else "index.html"
        if path == "index.json.sig":
            raise NotFound("no such page")
        if path == "index.json":
            body = self.state.views.index_view(doc, rules, self.state.views.key_for(rules, member))
            return Response(body, media_type="application/json", headers={"Cache-Control": PRIVATE})
        if path.endswith(".zip"):
            return await self._zip(request, member, path, rules)
        if not rules.path_readable(member, path):
            raise NotFound("no such page")
        if path in FILTERED_JSON:
            return await self._filtered(doc, rules, member, path)
        data = await self.state.origin.read(path)
        if data is None:
            if "." not in path.rsplit("/", 1)[-1] and await self.state.origin.read(path + "/index.html"):
                return RedirectResponse("/" + quote(path) + "/", status_code=301)
            raise NotFound("no such page")
        headers = {"Cache-Control": PRIVATE}
        if is_skill_file(path):  # editors' files: shown or downloaded, never run here (T49)
            media_type, extra = inert_file(path, data)
            return ranged(request, data, media_type, {**headers, **extra})
        media_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
        if media_type == "text/html" and (b"<!--sp-plugin:" in data or ACCOUNT_MARKER.encode() in data):
            html = self.state.views.html_view(doc, rules, self.state.views.key_for(rules, member), path, data)
            html = html.replace(ACCOUNT_MARKER, account_bar(member, self.state.settings), 1)
            return Response(html, media_type="text/html; charset=utf-8", headers=headers)
        if media_type.startswith("text/"):
            media_type += "; charset=utf-8"
        return ranged(request, data, media_type, headers)

    async def _filtered(self, doc: IndexDocument, rules: AccessRules, member: Member, path: str) -> Response:
        """A filtered JSON file (T26): the member's view, shared by every member with the same access
        (proxy/views.py); the origin is read again at most every SKILLPORT_INDEX_REFRESH_SECONDS."""
        views, now = self.state.views, _now().timestamp()
        key = views.key_for(rules, member)
        data = None
        if views.needs_origin_read(doc, path, now):
            data = await self.state.origin.read(path)
            if data is None:
                views.forget(doc, path)
                raise NotFound("no such page")
        body = views.file_view(doc, rules, key, path, data, now)
        if body is None:  # another index was trusted meanwhile: this request's snapshot, uncached
            data = await self.state.origin.read(path)
            body = None if data is None else views.file_view(doc, rules, key, path, data, now)
        if body is None:
            raise NotFound("no such page")
        return Response(body, media_type="application/json", headers={"Cache-Control": PRIVATE})

    async def _zip(self, request: Request, member: Member, path: str, rules: AccessRules) -> Response:
        found = self.state.index.zip_entry(path)
        if found is None or not rules.can_read(member, found[0]):
            raise NotFound("no such file")
        data = await self.state.origin.read(path)
        if data is None:
            raise NotFound("no such file")
        check_zip(data, found[1])
        self.state.audit.record(
            "download",
            member=member,
            ip=client_ip(request),
            path=path,
            via=request.scope.get(VIA_KEY, "session"),
        )
        return ranged(
            request,
            data,
            "application/zip",
            {
                "Cache-Control": PRIVATE,
                "Content-Disposition": f'attachment; filename="{path.rsplit("/", 1)[-1]}"',
            },
        )

    async def download(self, request: Request) -> Response:
        """``/d/<token>``: a signed link, no cookie needed (T32)."""
        now = _now()
        grant = self.state.links.check(request.path_params["token"], now=now)
        member = await self.state.authenticate(request)
        if member is not None and member.sub != grant.sub:
            raise PermissionDenied("this download link was made for someone else; ask for your own")
        _, rules = self._ready()
        holder = Member(sub=grant.sub, email=grant.email)
        skill = self.state.index.skill(grant.skill)
        if skill is None or not rules.can_read(holder, skill.plugin):
            raise NotFound("this skill is not in the catalog")
        if skill.version != grant.version:
            raise NotFound(
                f"version {grant.version} of {grant.skill} is no longer published; ask for a new link"
            )
        record = skill.zip
        if record is None:
            raise NotFound("this skill has no download")
        path = safe_path(record.path)
        data = await self.state.origin.read(path)
        if data is None:
            raise NotFound("no such file")
        check_zip(data, record)
        self.state.audit.record(
            "download",
            member=holder,
            ip=client_ip(request),
            now=now,
            skill=grant.skill,
            version=grant.version,
            via="link",
        )
        return ranged(
            request,
            data,
            "application/zip",
            {
                "Cache-Control": "private, no-store",
                "Content-Disposition": f'attachment; filename="{path.rsplit("/", 1)[-1]}"',
            },
        )


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok", headers={"Cache-Control": "no-store"})


async def readyz(request: Request) -> Response:
    """``ready`` (200): a verified index is loaded and current. ``degraded`` (200): still serving the
    last good index while the origin is down or serves something refused (``reason`` says what).
    ``unavailable`` (503): no valid index at all."""
    index = services_of(request).index
    if index.current() is None:
        return JSONResponse(
            {"status": "unavailable", "reason": index.problem},
            status_code=503,
            headers={"Cache-Control": "no-store"},
        )
    body: dict[str, Any] = {"status": "ready", "serial": index.serial}
    if index.problem:
        body.update(status="degraded", reason=index.problem)
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


def create_app(
    settings: Settings, *, services: Services | None = None, site_build: SiteBuild | None = None
) -> Starlette:
    """The proxy application over ``services`` (built here from ``settings`` unless passed
    pre-built: tests inject origins/audit logs). ``site_build`` is the builder, injected by
    ``skillport serve`` for ``SKILLPORT_REBUILD`` (the proxy never imports the build pipeline)."""
    state = services or Services.create(settings, site_build=site_build)
    site = Site(state)
    mcp_app, mcp_lifespan = build_mcp(state)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await state.index.refresh(now=_now(), force=True)
        async with mcp_lifespan():
            yield
        await state.aclose()

    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        Route("/readyz", readyz, methods=["GET", "HEAD"]),
        *identity_routes(state),
        *oauth_routes(state.oauth, state.audit, state.authenticate),
        *api_routes(state),
        Route("/mcp", mcp_app),  # an ASGI app on the exact path (Mount would never match "/mcp")
        Route("/d/{token}", site.download, methods=["GET", "HEAD"]),
        Route("/{path:path}", site.page, methods=["GET", "HEAD"]),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(
                SecurityMiddleware,
                public_origin=settings.public_origin,
                https=settings.is_https,
                max_body_bytes=settings.max_body_bytes,
            ),
            Middleware(IndexRefresh, services=state),
        ],
        exception_handlers={SkillportError: skillport_error_handler, Exception: unexpected_error_handler},
        lifespan=lifespan,
    )
    app.state.skillport = state
    return app
