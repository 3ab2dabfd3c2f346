"""The one MCP tool, ``skillport``: action dispatch onto the catalog, links and (later) authoring.

``run_action`` is shared by the MCP server and the JSON API (``proxy/api.py``): it validates the
arguments at the trust boundary (pydantic, strict limits), checks access per plugin (members only see
plugins they can read, T26; editor actions need ``edit`` rights, refused and audited otherwise, T39),
never touches files with a caller-supplied path (T38), audits every call and returns compact JSON.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from mcp.server import MCPServer
from mcp.server.auth.middleware.auth_context import AuthContextMiddleware, get_access_token
from mcp.server.auth.middleware.bearer_auth import BearerAuthBackend, RequireAuthMiddleware
from mcp.server.auth.routes import build_resource_metadata_url
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, ValidationError
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.types import ASGIApp

from builder import package, rules, zipcheck
from builder.errors import BadInput, NotConfigured, NotFound, PermissionDenied, SkillportError
from builder.model import bare_skill_name
from proxy import catalog
from proxy.oauth import OAuthConfig, SkillportOAuthProvider

Action = Literal["help", "search", "get", "install", "updates", "whoami", "bump", "delete", "publish"]
EDITOR_ACTIONS = frozenset({"bump", "delete", "publish"})
Surface = Literal["claude-ai", "desktop", "claude-code", "api"]
NAME_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"
# A skill reference: ``skill``, ``plugin:skill`` or the index name ``plugin.skill`` (T38: no / or ..).
SKILL_REF_PATTERN = r"^(?:[A-Za-z0-9][A-Za-z0-9_-]{0,63}[:.])?[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"
MAX_INLINE_SKILL_MD = 24_000
MAX_PUBLISH_FILES = 200
MAX_PUBLISH_BYTES = 30 * 1024 * 1024
TOOL_DESCRIPTION = "Your organization's private Claude Skills: find, install, update. Start with action=help."
# Hand-written so that the whole tools/list result stays far under 600 bytes of JSON; the
# ``skillport`` skill documents every field (progressive disclosure).
TOOL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "action": {
            "type": "string",
            "description": "help|search|get|install|updates|whoami|bump|delete|publish",
        },
        "query": {"type": "string"},
        "skill": {"type": "string"},
        "surface": {"type": "string"},
        "installed": {"type": "array"},
        "more": {"type": "object"},
    },
    "required": ["action"],
}


class Installed(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str = Field(max_length=129)  # skill or plugin:skill
    version: str = Field(max_length=64)


class ToolArgs(BaseModel):
    """The tool's arguments, as checked at the trust boundary."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Action
    query: str = Field("", max_length=200)
    tag: str | None = Field(None, max_length=64)
    skill: str | None = Field(None, pattern=SKILL_REF_PATTERN)
    plugin: str | None = Field(None, pattern=NAME_PATTERN)
    version: str | None = Field(None, max_length=64)
    surface: Surface = "claude-ai"
    installed: tuple[Installed, ...] = Field((), max_length=catalog.MAX_INSTALLED)
    part: Literal["patch", "minor", "major"] = "patch"
    confirm: bool = False
    files: dict[str, str] | None = Field(None, max_length=MAX_PUBLISH_FILES)
    zip: str | None = Field(None, max_length=MAX_PUBLISH_BYTES * 2)
    limit: int = Field(20, ge=1, le=catalog.MAX_RESULTS)


class Publisher(Protocol):
    """What the authoring issue provides (``state.publisher``); each returns a compact result."""

    async def bump(
        self, member: Any, plugin: str, skill: str, part: str, *, now: datetime
    ) -> dict[str, Any]: ...
    async def delete(self, member: Any, plugin: str, skill: str, *, now: datetime) -> dict[str, Any]: ...
    async def publish(
        self, member: Any, plugin: str, skill: str, files: dict[str, bytes], *, now: datetime
    ) -> dict[str, Any]: ...


def parse_args(raw: Mapping[str, Any]) -> ToolArgs:
    """Validated arguments, or ``BadInput`` naming each bad field and the fix."""
    clean = {k: v for k, v in raw.items() if v is not None and v != ""}
    try:
        return ToolArgs.model_validate(clean)
    except ValidationError as exc:
        problems = []
        for err in exc.errors()[:5]:
            field = ".".join(str(x) for x in err["loc"]) or "arguments"
            problems.append(f"{field}: {err['msg']}")
        raise BadInput(
            "bad arguments: "
            + "; ".join(problems)
            + " (see action=help; skill names are lowercase letters, digits and hyphens)"
        ) from None


class Member(Protocol):
    @property
    def sub(self) -> str: ...
    @property
    def email(self) -> str: ...


def _readable(state: Any, member: Any) -> catalog.Readable:
    return lambda plugin: bool(state.access.can_read(member, plugin))


def _doc(state: Any) -> Mapping[str, Any]:
    doc = state.index.current()
    if doc is None:
        raise NotConfigured("the skill catalog is not available right now (no valid index); try again later")
    return doc  # type: ignore[no-any-return]


def _skill(state: Any, member: Any, doc: Mapping[str, Any], name: str | None) -> Mapping[str, Any]:
    if not name:
        raise BadInput("this action needs `skill`: the skill's name (find it with action=search)")
    entry = catalog.get(doc, name, _readable(state, member))
    if entry is None:
        raise NotFound(f"no skill named {name!r} (or you may not read it): use action=search")
    return entry


def _published(entry: Mapping[str, Any], version: str | None) -> Mapping[str, Any]:
    """The entry, if ``version`` (when given) is the one published; older zips are not served."""
    if version and version != entry.get("version"):
        raise NotFound(
            f"{entry['name']} {version} is not published; the current version is {entry.get('version')}"
        )
    return entry


def _link(state: Any, member: Any, entry: Mapping[str, Any], now: datetime) -> str:
    return str(state.links.mint(member, str(entry["name"]), str(entry["version"]), now=now))


def _link_lifetime(state: Any) -> int:
    return int(getattr(state.settings, "link_lifetime", 900))


def _help(state: Any, member: Any, doc: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    out: dict[str, Any] = {
        "about": "Skillport shares your organization's private Claude Skills. One tool, `skillport`, "
        "with an `action`.",
        "actions": {
            "search": "query, tag? -> skills (name, plugin, version, description)",
            "get": "skill -> metadata, files, SKILL.md",
            "install": "skill, surface (claude-ai|desktop|claude-code|api) -> link + steps",
            "updates": "installed=[{name, version}] -> newer versions and what changed",
            "whoami": "-> who you are, which plugins you may edit",
            "bump/delete/publish": "editors only: skill, part | confirm | files or zip",
        },
    }
    entry = catalog.get(doc, "skillport", _readable(state, member))
    if entry is not None:
        out["skill"] = {
            "why": "Install the `skillport` skill so Claude knows when and how to use each action.",
            "download": _link(state, member, entry, now),
            "expires_in": _link_lifetime(state),
            "steps": _upload_steps(),
        }
    return out


def _upload_steps() -> list[str]:
    return [
        "Download the zip from the link (it expires soon).",
        "Claude.ai or Desktop: Settings > Capabilities > Skills > Upload skill, choose the zip.",
        "Turn the skill on. Code execution must be enabled.",
    ]


def _get(
    state: Any, member: Any, entry: Mapping[str, Any], now: datetime, text: str | None
) -> dict[str, Any]:
    keys = (
        "name",
        "plugin",
        "version",
        "description",
        "license",
        "compatibility",
        "tags",
        "category",
        "author",
        "allowed_tools",
        "updated_at",
    )
    out: dict[str, Any] = {k: entry[k] for k in keys if entry.get(k) not in (None, "", [])}
    out["files"] = [{"path": f.get("path"), "size": f.get("size")} for f in entry.get("files") or ()]
    out["history"] = list(entry.get("history") or ())[:5]
    if text is not None:
        out["skill_md"] = text
    else:
        out["skill_md_link"] = _link(state, member, entry, now)
        out["note"] = "SKILL.md is large: download the zip from skill_md_link to read it."
    return out


async def _skill_md(state: Any, entry: Mapping[str, Any]) -> str | None:
    size = next((int(f.get("size") or 0) for f in entry.get("files") or () if f.get("path") == "SKILL.md"), 0)
    origin = getattr(state, "origin", None)
    if origin is None or size > MAX_INLINE_SKILL_MD:
        return None
    # the path is built from a name that exists in the verified index, never from the caller (T38)
    data = await origin.read(f".well-known/agent-skills/{entry['name']}/SKILL.md")
    if data is None or len(data) > MAX_INLINE_SKILL_MD:
        return None
    return bytes(data).decode("utf-8", errors="replace")


def _install(
    state: Any, member: Any, doc: Mapping[str, Any], entry: Mapping[str, Any], surface: str, now: datetime
) -> dict[str, Any]:
    if entry.get("zip") is None:  # Claude Code only: no upload zip, install the plugin
        market = str((doc.get("marketplace") or {}).get("name") or "skills")
        return {
            "skill": str(entry["name"]),
            "version": entry["version"],
            "surface": "claude-code",
            "claude_code_only": True,
            "note": "This skill is published for Claude Code only (Claude.ai's upload would refuse it).",
            "plugin": [
                f"/plugin marketplace add {state.settings.public_url}claude-code/marketplace.json",
                f"/plugin install {entry['plugin']}@{market}",
            ],
        }
    link = _link(state, member, entry, now)
    name = str(entry["name"])
    out: dict[str, Any] = {
        "skill": name,
        "version": entry["version"],
        "surface": surface,
        "download": link,
        "expires_in": _link_lifetime(state),
        "sha256": entry["zip"]["sha256"],
        "size": entry["zip"]["size"],
    }
    if surface in ("claude-ai", "desktop"):
        out["steps"] = _upload_steps()
    elif surface == "claude-code":
        market = str((doc.get("marketplace") or {}).get("name") or "skills")
        public = str(state.settings.public_url)
        out["plugin"] = [
            f"/plugin marketplace add {public}claude-code/marketplace.json",
            f"/plugin install {entry['plugin']}@{market}",
        ]
        folder = str(entry.get("skill") or name)  # the bare skill name, the zip's root folder
        out["direct"] = (
            f"mkdir -p ~/.claude/skills && curl -fsSL '{link}' -o /tmp/{folder}.zip && "
            f"rm -rf ~/.claude/skills/{folder} && unzip -q -o /tmp/{folder}.zip -d ~/.claude/skills/ "
            f"&& rm /tmp/{folder}.zip"
        )
        out["steps"] = [
            "Run the `direct` line (one skill, now), or the `plugin` commands (whole plugin, "
            "updates with /plugin update).",
            "Restart Claude Code to load the skill.",
        ]
    else:
        out["steps"] = ["Download the zip, then upload it with the Skills API (POST /v1/skills)."]
    return out


def _whoami(state: Any, member: Any, doc: Mapping[str, Any]) -> dict[str, Any]:
    plugins = [str(p.get("name")) for p in doc.get("plugins") or () if isinstance(p, Mapping)]
    readable = [p for p in plugins if state.access.can_read(member, p)]
    return {
        "sub": member.sub,
        "email": member.email,
        "name": getattr(member, "name", ""),
        "plugins": readable,
        "can_edit": [p for p in readable if state.access.can_edit(member, p)],
        "catalog_serial": doc.get("serial"),
    }


def _publish_files(args: ToolArgs) -> dict[str, bytes]:
    """Uploaded files as a checked mapping of safe relative paths (T38, T45); never written here.

    A zip goes through ``builder.zipcheck`` (entry count, sizes, ratio, names, links, nested
    archives, one SKILL.md); loose files get the same name, archive and size checks."""
    if args.zip:
        try:
            raw = base64.b64decode(args.zip, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BadInput("zip: not base64; send the zip file's bytes base64-encoded") from exc
        checked = zipcheck.check_zip(raw, zipcheck.ZipLimits(max_files=MAX_PUBLISH_FILES,
                                                             max_total_bytes=MAX_PUBLISH_BYTES))
        return {f.path: f.data for f in checked.files}
    if not args.files:
        raise BadInput("publish needs `files` ({path: text}) or `zip` (base64 of a zip)")
    files = {path: text.encode() for path, text in args.files.items()}
    total = 0
    for path, data in files.items():
        problem = package.path_problem(path) if len(path) <= 255 else "is longer than 255 characters"
        if problem:
            raise BadInput(f"files: {path[:80]!r} is not a safe relative path: it {problem}")
        if path.lower().endswith(rules.ARCHIVE_SUFFIXES):
            raise BadInput(f"files: {path!r}: nested archives are not allowed; send the files themselves")
        total += len(data)
    if total > MAX_PUBLISH_BYTES:
        raise BadInput(f"files: {total} bytes is more than the {MAX_PUBLISH_BYTES} allowed")
    if "SKILL.md" not in files:
        raise BadInput("files: a skill needs a SKILL.md at its root")
    return files


async def _editor(
    state: Any, member: Any, doc: Mapping[str, Any], args: ToolArgs, now: datetime, ip: str | None
) -> dict[str, Any]:
    if args.action == "publish" and args.skill and catalog.get(doc, args.skill) is None:
        if not args.plugin:
            raise BadInput("publishing a new skill needs `plugin`: the plugin to add it to")
        plugin = args.plugin
        if not state.access.can_read(member, plugin):
            raise NotFound(f"no plugin named {plugin!r} (or you may not read it)")
    else:
        plugin = str(_skill(state, member, doc, args.skill)["plugin"])
    if not state.access.can_edit(member, plugin):
        state.audit.record(
            "denied", member=member, ip=ip, tool_action=args.action, skill=args.skill, plugin=plugin
        )
        raise PermissionDenied(f"you may not edit plugin {plugin!r}: ask its editors (see the access rules)")
    files = _publish_files(args) if args.action == "publish" else {}
    if args.action == "delete" and not args.confirm:
        return {
            "confirm_needed": True,
            "message": f"Deleting {args.skill!r} removes it for everyone. Ask the user, then call again "
            "with confirm=true.",
        }
    publisher: Publisher | None = getattr(state, "publisher", None)
    if publisher is None:
        raise NotConfigured(
            "editing through Skillport is not configured on this server; edit the "
            "marketplace repository instead (skillport bump / new / delete)"
        )
    skill = bare_skill_name(str(args.skill))  # the publisher works on plugin + folder name
    if args.action == "bump":
        return await publisher.bump(member, plugin, skill, args.part, now=now)
    if args.action == "delete":
        return await publisher.delete(member, plugin, skill, now=now)
    return await publisher.publish(member, plugin, skill, files, now=now)


async def run_action(
    state: Any,
    member: Any,
    raw: Mapping[str, Any],
    *,
    now: datetime | None = None,
    ip: str | None = None,
    via: str = "mcp",
) -> dict[str, Any]:
    """Run one action for ``member``; raise ``BadInput``/``NotFound``/``PermissionDenied``/
    ``NotConfigured`` with a message meant for the member. Every call is audited."""
    moment = now or datetime.now(UTC)
    action = str(raw.get("action", ""))[:32]
    try:
        args = parse_args(raw)
        doc = _doc(state)
        result: dict[str, Any]
        if args.action == "help":
            result = _help(state, member, doc, moment)
        elif args.action == "search":
            result = {
                "results": catalog.search(doc, args.query, args.tag, _readable(state, member), args.limit)
            }
        elif args.action == "get":
            entry = _published(_skill(state, member, doc, args.skill), args.version)
            result = _get(state, member, entry, moment, await _skill_md(state, entry))
        elif args.action == "install":
            entry = _published(_skill(state, member, doc, args.skill), args.version)
            result = _install(state, member, doc, entry, args.surface, moment)
        elif args.action == "updates":
            installed = [i.model_dump() for i in args.installed]
            result = catalog.updates(doc, installed, _readable(state, member))
        elif args.action == "whoami":
            result = _whoami(state, member, doc)
        else:
            result = await _editor(state, member, doc, args, moment, ip)
    except SkillportError as exc:
        state.audit.record(
            "tool",
            member=member,
            ip=ip,
            via=via,
            tool_action=action,
            ok=False,
            error=type(exc).__name__,
            skill=str(raw.get("skill", ""))[:64],
        )
        raise
    state.audit.record(
        "tool",
        member=member,
        ip=ip,
        via=via,
        tool_action=action,
        ok=True,
        skill=str(raw.get("skill", ""))[:64],
    )
    return result


def compact(result: Mapping[str, Any]) -> str:
    return json.dumps(result, separators=(",", ":"), ensure_ascii=False)


# -- the MCP server --------------------------------------------------------------------------------


class TokenMember:
    """The member an access token speaks for (same attributes as the session's ``Member``)."""

    __slots__ = ("email", "hd", "name", "sub")

    def __init__(self, claims: Mapping[str, Any]) -> None:
        self.sub = str(claims.get("sub") or "")
        self.email = str(claims.get("email") or "")
        self.name = str(claims.get("name") or "")
        self.hd = str(claims.get("hd") or "")


def transport_security(public_url: str) -> TransportSecuritySettings:
    """Host/Origin allow-lists from the public URL (T34): DNS-rebinding protection stays on."""
    from urllib.parse import urlsplit

    parts = urlsplit(public_url)
    host = parts.netloc
    origin = f"{parts.scheme}://{host}"
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=[host], allowed_origins=[origin]
    )


def make_server(state: Any, clock: Callable[[], datetime] | None = None) -> MCPServer[Any]:
    server: MCPServer[Any] = MCPServer("skillport", version="1", log_level="WARNING")
    now = clock or (lambda: datetime.now(UTC))

    @server.tool(name="skillport", description=TOOL_DESCRIPTION, structured_output=False)
    async def skillport(
        action: str,
        query: str = "",
        skill: str = "",
        surface: str = "",
        installed: list[dict[str, Any]] | None = None,
        more: dict[str, Any] | None = None,
    ) -> str:
        token = get_access_token()
        if token is None or not token.subject:
            raise ToolError("not signed in")
        member = TokenMember(token.claims or {})
        raw: dict[str, Any] = dict(more or {})
        raw.update(
            {"action": action, "query": query, "skill": skill, "surface": surface, "installed": installed}
        )
        try:
            return compact(await run_action(state, member, raw, now=now(), via="mcp"))
        except SkillportError as exc:
            raise ToolError(str(exc)) from None

    tool = server._tool_manager.get_tool("skillport")  # the SDK has no public setter for the schema
    assert tool is not None
    tool.parameters = TOOL_SCHEMA
    return server


def build_mcp(state: Any) -> tuple[ASGIApp, Callable[[], AbstractAsyncContextManager[None]]]:
    """The ASGI app to mount at ``/mcp`` (path-agnostic: Streamable HTTP, stateless, JSON responses,
    bearer tokens from ``proxy/oauth.py`` bound to this resource) and the lifespan context the host
    app's lifespan must enter."""
    settings = state.settings
    config = OAuthConfig.from_settings(settings)
    verifier = SkillportOAuthProvider(config)
    server = make_server(state)
    server.streamable_http_app(
        streamable_http_path="/mcp",
        stateless_http=True,
        json_response=True,
        transport_security=transport_security(config.public_url),
        max_request_body_size=int(getattr(settings, "max_body_bytes", 1024 * 1024)),
    )
    manager = server.session_manager
    resource = AnyHttpUrl(config.resource)
    inner: ASGIApp = RequireAuthMiddleware(
        StreamableHTTPASGIApp(manager), [], build_resource_metadata_url(resource)
    )
    app: ASGIApp = AuthenticationMiddleware(
        AuthContextMiddleware(inner),
        backend=BearerAuthBackend(verifier, resource_server_url=resource),  # type: ignore[arg-type]
    )

    @asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        async with manager.run():
            yield

    return app, lifespan
