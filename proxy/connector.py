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
from typing import Any, Protocol

from mcp.server import MCPServer
from mcp.server.auth.middleware.auth_context import AuthContextMiddleware, get_access_token
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser, BearerAuthBackend
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.utilities.func_metadata import FuncMetadata
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import AnyHttpUrl
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from builder import install_guide, policy, scan, zipcheck
from builder.contract.index import IndexDocument, SkillEntry
from builder.errors import BadInput, NotConfigured, NotFound, PermissionDenied, SkillportError
from builder.model import bare_skill_name
from proxy import catalog
from proxy.bearer import member_from_claims
from proxy.errors import json_error
from proxy.oauth import OAuthConfig, www_authenticate
from proxy.services import Services
from proxy.tool_spec import (
    TOOL_DESCRIPTION,
    TOOL_SCHEMA,
    ToolArgs,
    help_actions,
    help_fields,
    parse_args,
)

MAX_INLINE_SKILL_MD = 24_000


class Publisher(Protocol):
    """What the authoring issue provides (``state.publisher``); each returns a compact result."""

    async def bump(
        self, member: Any, plugin: str, skill: str, part: str, *, now: datetime, note: str | None = None
    ) -> dict[str, Any]: ...
    async def delete(self, member: Any, plugin: str, skill: str, *, now: datetime) -> dict[str, Any]: ...
    async def publish(
        self,
        member: Any,
        plugin: str,
        skill: str,
        files: dict[str, bytes],
        *,
        now: datetime,
        note: str | None = None,
    ) -> dict[str, Any]: ...


class Member(Protocol):
    @property
    def sub(self) -> str: ...
    @property
    def email(self) -> str: ...


def _readable(state: Services, member: Any) -> catalog.Readable:
    return lambda plugin: bool(state.access.can_read(member, plugin))


def _doc(state: Services) -> IndexDocument:
    doc: IndexDocument | None = state.index.current()
    if doc is None:
        raise NotConfigured("the skill catalog is not available right now (no valid index); try again later")
    return doc


def _skill(state: Services, member: Any, doc: IndexDocument, name: str | None) -> SkillEntry:
    if not name:
        raise BadInput("this action needs `skill`: the skill's name (find it with action=search)")
    entry = catalog.get(doc, name, _readable(state, member))
    if entry is None:
        raise NotFound(f"no skill named {name!r} (or you may not read it): use action=search")
    return entry


def _published(entry: SkillEntry, version: str | None) -> SkillEntry:
    """The entry, if ``version`` (when given) is the one published; older zips are not served."""
    if version and version != entry.version:
        raise NotFound(f"{entry.name} {version} is not published; the current version is {entry.version}")
    return entry


def _link(state: Services, member: Any, entry: SkillEntry, now: datetime) -> str:
    return str(state.links.mint(member, entry.name, entry.version, now=now))


def _link_lifetime(state: Services) -> int:
    return int(state.settings.link_lifetime)


def _help(state: Services, member: Any, doc: IndexDocument, now: datetime) -> dict[str, Any]:
    out: dict[str, Any] = {
        "about": "Skillport shares your organization's private Claude Skills. One tool, `skillport`, "
        "with an `action`.",
        "actions": help_actions(),
        "arguments": help_fields(),
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


def _get(state: Services, member: Any, entry: SkillEntry, now: datetime, text: str | None) -> dict[str, Any]:
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
    record = entry.to_json()
    out: dict[str, Any] = {k: record[k] for k in keys if record.get(k) not in (None, "", [])}
    out["files"] = [{"path": f.path, "size": f.size} for f in entry.files]
    out["history"] = [h.to_json() for h in entry.history[:5]]
    out["scan"] = scan.member_view(entry.scan)
    if entry.versions:  # each version's note and file summary (what changed), newest first
        out["versions"] = [dict(v) for v in entry.versions[:5]]
    if text is not None:
        out["skill_md"] = text
    else:
        out["skill_md_link"] = _link(state, member, entry, now)
        out["note"] = "SKILL.md is large: download the zip from skill_md_link to read it."
    return out


async def _skill_md(state: Services, entry: SkillEntry) -> str | None:
    if entry.file_size("SKILL.md") > MAX_INLINE_SKILL_MD:
        return None
    # the path is built from a name that exists in the verified index, never from the caller (T38)
    data = await state.origin.read(f".well-known/agent-skills/{entry.name}/SKILL.md")
    if data is None or len(data) > MAX_INLINE_SKILL_MD:
        return None
    return bytes(data).decode("utf-8", errors="replace")


def _install(
    state: Services, member: Any, doc: IndexDocument, entry: SkillEntry, surface: str, now: datetime
) -> dict[str, Any]:
    market = doc.marketplace.name or "skills"
    if entry.zip is None:  # Claude Code only: no upload zip, install the plugin
        return {
            "skill": entry.name,
            "version": entry.version,
            "surface": "claude-code",
            "claude_code_only": True,
            "scan": scan.member_view(entry.scan),
            "note": "This skill is published for Claude Code only (Claude.ai's upload would refuse it).",
            "plugin": [
                f"/plugin marketplace add {state.settings.public_url}claude-code/marketplace.json",
                f"/plugin install {entry.plugin}@{market}",
            ],
        }
    link = _link(state, member, entry, now)
    name = entry.name
    out: dict[str, Any] = {
        "skill": name,
        "version": entry.version,
        "surface": surface,
        "download": link,
        "expires_in": _link_lifetime(state),
        "sha256": entry.zip.sha256,
        "size": entry.zip.size,
        "scan": scan.member_view(entry.scan),
    }
    if surface == "api":
        out["steps"] = ["Download the zip, then upload it with the Skills API (POST /v1/skills)."]
        return out
    # the same steps the catalog page shows (builder/install_guide.py), with the signed link
    public = str(state.settings.public_url)
    target = install_guide.Target(public, market, entry.plugin, name, entry.zip.file, link)
    out["steps"] = install_guide.for_surface(target, surface).lines()
    folder = entry.skill  # the bare skill name, the zip's root folder
    if surface == "claude-code":
        out["settings"] = json.loads(install_guide.settings_block(public, market))
        out["on_the_web"] = install_guide.claude_code_web(target).lines()
        out["direct"] = (
            f"mkdir -p ~/.claude/skills && curl -fsSL '{link}' -o /tmp/{folder}.zip && "
            f"rm -rf ~/.claude/skills/{folder} && unzip -q -o /tmp/{folder}.zip -d ~/.claude/skills/ "
            f"&& rm /tmp/{folder}.zip"
        )
    return out


def _whoami(state: Services, member: Any, doc: IndexDocument) -> dict[str, Any]:
    plugins = [p.name for p in doc.plugins]
    readable = [p for p in plugins if state.access.can_read(member, p)]
    return {
        "sub": member.sub,
        "email": member.email,
        "name": getattr(member, "name", ""),
        "plugins": readable,
        "can_edit": [p for p in readable if state.access.can_edit(member, p)],
        "catalog_serial": doc.serial,
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
        checked = zipcheck.check_zip(raw)  # the upload limits of builder.policy
        return {f.path: f.data for f in checked.files}
    if not args.files:
        raise BadInput("publish needs `files` ({path: text}) or `zip` (base64 of a zip)")
    files = {path: text.encode() for path, text in args.files.items()}
    total = 0
    for path, data in files.items():
        problem = policy.long_path_problem(path)
        if problem:
            raise BadInput(f"files: {path[:80]!r} is not a safe relative path: it {problem}")
        if policy.is_archive(path):
            raise BadInput(f"files: {path!r}: nested archives are not allowed; send the files themselves")
        total += len(data)
    if total > policy.UPLOAD_MAX_BYTES:
        raise BadInput(f"files: {total} bytes is more than the {policy.UPLOAD_MAX_BYTES} allowed")
    if "SKILL.md" not in files:
        raise BadInput("files: a skill needs a SKILL.md at its root")
    return files


async def _editor(
    state: Services, member: Any, doc: IndexDocument, args: ToolArgs, now: datetime, ip: str | None
) -> dict[str, Any]:
    # a name the member may not read is looked up like a missing one: same answers for both (T53)
    readable = catalog.get(doc, args.skill, _readable(state, member)) if args.skill else None
    if args.action == "publish" and args.skill and readable is None:
        if not args.plugin:
            raise BadInput("publishing a new skill needs `plugin`: the plugin to add it to")
        plugin = args.plugin
        if not state.access.can_read(member, plugin):
            raise NotFound(f"no plugin named {plugin!r} (or you may not read it)")
        if catalog.get(doc, args.skill) is not None and state.access.can_edit(member, plugin):
            # names are unique in the marketplace: an editor can learn that one is taken, never where
            raise BadInput(f"the skill name {args.skill!r} is not available: choose another name")
    else:
        plugin = _skill(state, member, doc, args.skill).plugin
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
    publisher: Publisher | None = state.publisher
    if publisher is None:
        raise NotConfigured(
            "editing through Skillport is not configured on this server; edit the "
            "marketplace repository instead (skillport bump / new / delete)"
        )
    skill = bare_skill_name(str(args.skill))  # the publisher works on plugin + folder name
    noted: dict[str, Any] = {"note": args.note} if args.note else {}  # the version's change note
    if args.action == "bump":
        return await publisher.bump(member, plugin, skill, args.part, now=now, **noted)
    if args.action == "delete":
        return await publisher.delete(member, plugin, skill, now=now)
    return await publisher.publish(member, plugin, skill, files, now=now, **noted)


async def run_action(
    state: Services,
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


def transport_security(public_url: str) -> TransportSecuritySettings:
    """Host/Origin allow-lists from the public URL (T34): DNS-rebinding protection stays on."""
    from urllib.parse import urlsplit

    parts = urlsplit(public_url)
    host = parts.netloc
    origin = f"{parts.scheme}://{host}"
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=[host], allowed_origins=[origin]
    )


class _WholeArguments(FuncMetadata):
    """Hands the tool its raw ``arguments`` object (validated by ``parse_args``, not here)."""

    def validate_arguments(self, arguments_to_validate: dict[str, Any]) -> dict[str, Any]:
        return {"arguments": dict(arguments_to_validate)}


def make_server(state: Services, clock: Callable[[], datetime] | None = None) -> MCPServer[Any]:
    server: MCPServer[Any] = MCPServer("skillport", version="1", log_level="WARNING")
    now = clock or (lambda: datetime.now(UTC))

    @server.tool(name="skillport", description=TOOL_DESCRIPTION, structured_output=False)
    async def skillport(arguments: dict[str, Any]) -> str:
        token = get_access_token()
        if token is None or not token.subject:
            raise ToolError("not signed in")
        member = member_from_claims(token.claims or {})
        if member is None:
            raise ToolError("not signed in")
        try:
            return compact(await run_action(state, member, arguments, now=now(), via="mcp"))
        except SkillportError as exc:
            raise ToolError(str(exc)) from None

    # The SDK would check the call against a model of the function's parameters and silently drop
    # anything else; the tool reads the caller's arguments whole instead, so ``parse_args`` refuses
    # unknown ones, and it publishes the schema generated from ``ToolArgs`` (the SDK has no setter).
    tool = server._tool_manager.get_tool("skillport")
    assert tool is not None
    tool.parameters = TOOL_SCHEMA
    tool.fn_metadata = _WholeArguments(arg_model=tool.fn_metadata.arg_model, wrap_output=False)
    # One tool, nothing else: no prompts, resources or list-change subscriptions (the tool list never
    # changes) are served or advertised; the SDK derives capabilities from the handlers present.
    handlers = server._lowlevel_server._request_handlers
    for method in [m for m in handlers if m.startswith(("prompts/", "resources/", "subscriptions/"))]:
        del handlers[method]
    return server


class _RequireToken:
    """``/mcp`` for signed-in callers only: no token is a 401 naming the metadata and the scope (no
    ``error``, RFC 6750 section 3.1); a refused token adds ``error="invalid_token"``. With a token,
    GET (a server-sent event stream this stateless server does not offer) is 405."""

    def __init__(self, app: ASGIApp, config: OAuthConfig) -> None:
        self.app = app
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response: Response | None = None
        if not isinstance(scope.get("user"), AuthenticatedUser):
            sent = any(name == b"authorization" for name, _ in scope.get("headers", ()))
            error = "invalid_token" if sent else None
            response = json_error(
                401,
                "sign in: an OAuth access token",
                code=error or "unauthorized",
                headers={"WWW-Authenticate": www_authenticate(self.config, error, "token refused")},
            )
        elif scope.get("method") == "GET":
            response = Response(status_code=405, headers={"Allow": "POST"})
        if response is not None:
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def build_mcp(state: Services) -> tuple[ASGIApp, Callable[[], AbstractAsyncContextManager[None]]]:
    """The ASGI app to mount at ``/mcp`` (path-agnostic: Streamable HTTP, stateless, JSON responses,
    bearer tokens from ``proxy/oauth.py`` bound to this resource) and the lifespan context the host
    app's lifespan must enter."""
    settings = state.settings
    config = state.oauth.config
    verifier = state.oauth
    server = make_server(state)
    server.streamable_http_app(
        streamable_http_path="/mcp",
        stateless_http=True,
        json_response=True,
        transport_security=transport_security(config.public_url),
        max_request_body_size=settings.max_body_bytes,
    )
    manager = server.session_manager
    resource = AnyHttpUrl(config.resource)
    app: ASGIApp = AuthenticationMiddleware(
        AuthContextMiddleware(_RequireToken(StreamableHTTPASGIApp(manager), config)),
        backend=BearerAuthBackend(verifier, resource_server_url=resource),  # type: ignore[arg-type]
    )

    @asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        async with manager.run():
            yield

    return app, lifespan
