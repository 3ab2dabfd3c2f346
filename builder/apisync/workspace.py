"""The Claude API workspace, through the official ``anthropic`` SDK (the only I/O with Anthropic).

The SDK reads ``ANTHROPIC_API_KEY`` and ``ANTHROPIC_BASE_URL`` and retries 408/409/429/5xx itself,
honouring ``retry-after``; what still fails reaches the caller as :class:`ApiFailure`, one line long.
"""

from __future__ import annotations

import mimetypes
from typing import Any

import anthropic

from builder.apisync.plan import ApiSkill, CatalogSkill
from builder.errors import UpstreamError
from builder.origin import parse_origin

PAGE = 100


class ApiFailure(UpstreamError):
    """A Skills API call failed after the SDK's retries; ``status`` is the HTTP status (0: unreachable)."""

    def __init__(self, what: str, exc: anthropic.APIError) -> None:
        self.status = exc.status_code if isinstance(exc, anthropic.APIStatusError) else 0
        hint = {
            401: "the API key was refused: check ANTHROPIC_API_KEY",
            403: "the API key may not manage Skills in this workspace: check its role or --workspace",
            404: "not found (deleted meanwhile?): sync again",
            429: "rate limited after retries: sync again later",
        }.get(self.status, "")
        detail = _message(exc)
        status = f"HTTP {self.status}" if self.status else "unreachable"
        super().__init__(f"{what}: {status}: {detail}" + (f" ({hint})" if hint else ""))


def _message(exc: anthropic.APIError) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return " ".join(error["message"].split())[:200]
    return " ".join(str(exc.message).split())[:200]


def _uploads(skill: CatalogSkill) -> list[tuple[str, bytes, str]]:
    return [
        (path, data, mimetypes.guess_type(path)[0] or "application/octet-stream")
        for path, data in skill.files
    ]


class Workspace:
    """One workspace's custom skills: read them, create, add versions, delete."""

    def __init__(self, client: anthropic.Anthropic, workspace_id: str | None = None) -> None:
        self.client = client
        self.extra: dict[str, Any] = {"workspace_id": workspace_id} if workspace_id else {}

    def read(self) -> list[ApiSkill]:
        """Every custom skill with its latest version's name and origin marker."""
        out: list[ApiSkill] = []
        try:
            for skill in self.client.skills.list(source="custom", limit=PAGE, **self.extra):
                latest = self.client.skills.versions.retrieve(
                    skill.latest_version_id, skill_id=skill.id, **self.extra
                )
                out.append(
                    ApiSkill(skill.id, latest.name, skill.created_at, parse_origin(latest.description))
                )
        except anthropic.APIError as exc:
            raise ApiFailure("reading the workspace's skills", exc) from exc
        return out

    def create(self, skill: CatalogSkill) -> str:
        try:
            created = self.client.skills.create(files=_uploads(skill), display_name=skill.name, **self.extra)
        except anthropic.APIError as exc:
            raise ApiFailure(f"creating {skill.key}", exc) from exc
        return created.id

    def add_version(self, api_id: str, skill: CatalogSkill) -> str:
        try:
            version = self.client.skills.versions.create(api_id, files=_uploads(skill), **self.extra)
        except anthropic.APIError as exc:
            raise ApiFailure(f"adding version {skill.version} of {skill.key}", exc) from exc
        return version.id

    def delete(self, api_id: str, what: str) -> None:
        """Delete a skill: its versions first (the API keeps a skill that still has versions)."""
        try:
            versions = [v.id for v in self.client.skills.versions.list(api_id, limit=PAGE, **self.extra)]
            for version in versions:
                self.client.skills.versions.delete(version, skill_id=api_id, **self.extra)
            self.client.skills.delete(api_id, **self.extra)
        except anthropic.APIError as exc:
            raise ApiFailure(f"deleting {what} ({api_id})", exc) from exc
