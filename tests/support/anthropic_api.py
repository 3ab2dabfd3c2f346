"""A small stand-in for Anthropic's Skills API (``/v1/skills``), the one service tests cannot reach.

It implements the documented endpoints and response shapes the official SDK expects (``Skill``,
``SkillVersion``, cursor pages, deletions), checks the API key (``x-api-key``, or a bearer header as newer
SDKs send it), enforces the documented upload rules (one top-level folder, ``SKILL.md`` at its root, a
kebab-case ``name``, an immutable name across versions, a skill deleted only once its versions are),
records every request, and can answer a chosen request with an error first (429 with ``retry-after``,
5xx) to exercise the client's retries.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import uvicorn
import yaml
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

EPOCH = datetime(2026, 12, 1, tzinfo=UTC)
_KEBAB = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


@dataclass
class Version:
    id: str
    skill_id: str
    created_at: datetime
    name: str
    description: str
    files: dict[str, bytes]

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "skill_version",
            "skill_id": self.skill_id,
            "created_at": self.created_at.isoformat(),
            "name": self.name,
            "description": self.description,
        }


@dataclass
class Skill:
    id: str
    created_at: datetime
    display_name: str
    versions: list[Version] = field(default_factory=list)
    source: str = "custom"

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "skill",
            "created_at": self.created_at.isoformat(),
            "updated_at": (self.versions[-1].created_at if self.versions else self.created_at).isoformat(),
            "display_name": self.display_name,
            "latest_version_id": self.versions[-1].id,
            "source": self.source,
        }


@dataclass
class Fault:
    method: str
    path: str  # regex matched against the request path
    status: int
    headers: dict[str, str]
    times: int = 1


@dataclass
class Recorded:
    method: str
    path: str
    status: int
    workspace: str | None
    at: float
    files: list[str] = field(default_factory=list)


def _error(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"type": "error", "error": {"type": kind, "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)


class SkillsApi:
    """The workspace's state and the ASGI app serving it."""

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.skills: dict[str, Skill] = {}
        self.requests: list[Recorded] = []
        self.faults: list[Fault] = []
        self._ids = 0
        self._lock = threading.Lock()
        self.app = Starlette(
            routes=[
                Route("/v1/skills", self._skills, methods=["GET", "POST"]),
                Route("/v1/skills/{skill_id}", self._skill, methods=["GET", "DELETE"]),
                Route("/v1/skills/{skill_id}/versions", self._versions, methods=["GET", "POST"]),
                Route("/v1/skills/{skill_id}/versions/{version}", self._version, methods=["GET", "DELETE"]),
            ]
        )

    # -- helpers used by tests ---------------------------------------------------------------------

    def fail_next(
        self, method: str, path: str, status: int, headers: dict[str, str] | None = None, times: int = 1
    ) -> None:
        self.faults.append(Fault(method, path, status, headers or {}, times))

    def add_foreign(self, name: str, description: str) -> Skill:
        """A skill someone uploaded by hand (no origin marker)."""
        files = {f"{name}/SKILL.md": f"---\nname: {name}\ndescription: {description}\n---\n".encode()}
        return self._create(name, files)

    def calls(self, method: str, pattern: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and re.fullmatch(pattern, r.path)]

    # -- state ----------------------------------------------------------------------------------

    def _next(self, prefix: str) -> tuple[str, datetime]:
        self._ids += 1
        return f"{prefix}_{self._ids:06d}", EPOCH + timedelta(seconds=self._ids)

    def _create(self, display_name: str, files: dict[str, bytes]) -> Skill:
        name, description = _check_upload(files)
        skill_id, at = self._next("skill")
        skill = Skill(skill_id, at, display_name or name)
        self._add_version(skill, files, name, description)
        self.skills[skill_id] = skill
        return skill

    def _add_version(self, skill: Skill, files: dict[str, bytes], name: str, description: str) -> Version:
        version_id, at = self._next("skillver")
        version = Version(version_id, skill.id, at, name, description, files)
        skill.versions.append(version)
        return version

    # -- HTTP -----------------------------------------------------------------------------------

    async def _guard(self, request: Request) -> Response | None:
        fault = next(
            (
                f
                for f in self.faults
                if f.times > 0 and f.method == request.method and re.fullmatch(f.path, request.url.path)
            ),
            None,
        )
        if fault is not None:
            fault.times -= 1
            kind = "rate_limit_error" if fault.status == 429 else "api_error"
            return _error(fault.status, kind, f"injected {fault.status}", fault.headers)
        sent = request.headers.get("x-api-key") or request.headers.get("authorization", "").removeprefix(
            "Bearer "
        )
        if sent != self.api_key:
            return _error(401, "authentication_error", "invalid x-api-key")
        return None

    async def _form(self, request: Request) -> tuple[dict[str, bytes], dict[str, str]]:
        form = await request.form()
        files: dict[str, bytes] = {}
        fields: dict[str, str] = {}
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                files[value.filename or ""] = await value.read()
            else:
                fields[key] = value
        return files, fields

    async def _handle(self, request: Request, answer: Any) -> Response:
        refused = await self._guard(request)
        files: dict[str, bytes] = {}
        fields: dict[str, str] = {}
        if refused is None and request.method == "POST":
            files, fields = await self._form(request)
        response: Response
        if refused is not None:
            response = refused
        else:
            try:
                with self._lock:
                    response = answer(request, files, fields)
            except UploadRefused as exc:
                response = _error(400, "invalid_request_error", str(exc))
        self.requests.append(
            Recorded(
                request.method,
                request.url.path,
                response.status_code,
                request.headers.get("anthropic-workspace-id"),
                time.monotonic(),
                sorted(files),
            )
        )
        return response

    async def _skills(self, request: Request) -> Response:
        def answer(request: Request, files: dict[str, bytes], fields: dict[str, str]) -> Response:
            if request.method == "POST":
                return JSONResponse(self._create(fields.get("display_name", ""), files).json())
            source = request.query_params.get("source")
            items = [s for s in self.skills.values() if source in (None, s.source)]
            return _page(items, request)

        return await self._handle(request, answer)

    async def _skill(self, request: Request) -> Response:
        def answer(request: Request, files: dict[str, bytes], fields: dict[str, str]) -> Response:
            skill = self.skills.get(request.path_params["skill_id"])
            if skill is None:
                return _error(404, "not_found_error", "skill not found")
            if request.method == "DELETE":
                if skill.versions:
                    return _error(400, "invalid_request_error", "delete the skill's versions first")
                del self.skills[skill.id]
                return JSONResponse({"id": skill.id, "type": "skill_deleted"})
            return JSONResponse(skill.json())

        return await self._handle(request, answer)

    async def _versions(self, request: Request) -> Response:
        def answer(request: Request, files: dict[str, bytes], fields: dict[str, str]) -> Response:
            skill = self.skills.get(request.path_params["skill_id"])
            if skill is None:
                return _error(404, "not_found_error", "skill not found")
            if request.method == "POST":
                name, description = _check_upload(files)
                if name != skill.versions[0].name:
                    raise UploadRefused(
                        f"name {name!r} differs from the skill's name {skill.versions[0].name!r}"
                    )
                return JSONResponse(self._add_version(skill, files, name, description).json())
            return _page(list(reversed(skill.versions)), request)

        return await self._handle(request, answer)

    async def _version(self, request: Request) -> Response:
        def answer(request: Request, files: dict[str, bytes], fields: dict[str, str]) -> Response:
            skill = self.skills.get(request.path_params["skill_id"])
            wanted = request.path_params["version"]
            version = next((v for v in skill.versions if v.id == wanted), None) if skill else None
            if skill is None or version is None:
                return _error(404, "not_found_error", "version not found")
            if request.method == "DELETE":
                skill.versions.remove(version)
                return JSONResponse({"id": version.id, "type": "skill_version_deleted"})
            return JSONResponse(version.json())

        return await self._handle(request, answer)


class UploadRefused(Exception):
    pass


def _page(items: list[Any], request: Request) -> Response:
    limit = int(request.query_params.get("limit") or 20)
    start = int(request.query_params.get("page") or 0)
    chunk = items[start : start + limit]
    more = start + limit < len(items)
    return JSONResponse(
        {
            "data": [i.json() for i in chunk],
            "has_more": more,
            "next_page": str(start + limit) if more else None,
        }
    )


def _check_upload(files: dict[str, bytes]) -> tuple[str, str]:
    """The documented upload rules; returns the SKILL.md's (name, description)."""
    if not files:
        raise UploadRefused("no files uploaded")
    tops = {path.split("/", 1)[0] for path in files}
    if len(tops) != 1 or any("/" not in path for path in files):
        raise UploadRefused(f"all files must be in one top-level directory, got {sorted(tops)}")
    top = tops.pop()
    skill_md = files.get(f"{top}/SKILL.md")
    if skill_md is None:
        raise UploadRefused(f"{top}/SKILL.md is missing")
    match = re.match(r"---\r?\n(.*?)\r?\n---", skill_md.decode("utf-8"), re.DOTALL)
    front = yaml.safe_load(match.group(1)) if match else None
    if not isinstance(front, dict):
        raise UploadRefused("SKILL.md has no YAML frontmatter")
    name = str(front.get("name") or top)
    description = front.get("description")
    if not _KEBAB.fullmatch(name) or len(name) > 64:
        raise UploadRefused(f"name {name!r} is not a kebab-case slug")
    if not isinstance(description, str) or not description or len(description) > 1024:
        raise UploadRefused("description must be 1-1024 characters")
    return name, description


@contextmanager
def running(api_key: str) -> Iterator[tuple[SkillsApi, str]]:
    """The stand-in served by a real uvicorn on 127.0.0.1; yields it and its base URL."""
    import socket

    api = SkillsApi(api_key)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(api.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the Skills API stand-in did not start")
        time.sleep(0.02)
    try:
        yield api, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
