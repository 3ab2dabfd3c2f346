"""Environment -> one validated ``Settings`` object (every problem reported at once).

Every limit the proxy (and the MCP/OAuth connector) uses lives here. ``Settings.from_env`` reads
``SKILLPORT_*`` variables; bad values raise ``BadInput`` listing every problem with its variable name.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from builder.errors import BadInput
from builder.signing import key_problems, parse_keys

ENV_PREFIX = "SKILLPORT_"
GOOGLE_ISSUER = "https://accounts.google.com"


class Settings(BaseModel):
    """The proxy's whole configuration. Field ``x`` is read from ``SKILLPORT_X``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    public_url: str = Field(
        description="The URL members use, e.g. https://skills.corp.example/ "
        "(redirect URIs and links are built from it, never from the request)."
    )
    secret_keys: tuple[SecretStr, ...] = Field(
        description="Comma-separated keys, oldest -> newest, for "
        "session cookies, sign-in state, download links and OAuth tokens."
    )
    signing_keys: tuple[SecretStr, ...] = Field(
        description="Comma-separated keys the index was signed with "
        "(same as the builder's), oldest -> newest."
    )
    origin: str = Field(
        "site", description="Where the built site lives: a local directory or an http(s) base URL."
    )
    origin_headers: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="JSON object of extra "
        'headers sent to an HTTP origin, e.g. {"Authorization": "Bearer …"}.',
    )
    oidc_issuer: str = Field(GOOGLE_ISSUER, description="OpenID Connect issuer URL.")
    oidc_client_id: str = Field(description="OAuth client id registered at the issuer.")
    oidc_client_secret: SecretStr = Field(description="OAuth client secret registered at the issuer.")
    allowed_domains: tuple[str, ...] = Field(
        (),
        description="Comma-separated organization domains: Google "
        "`hd` claim, or the email domain for other issuers.",
    )
    allowed_emails: tuple[str, ...] = Field(
        (), description="Comma-separated individual emails also allowed in."
    )
    oidc_require_hd: bool | None = Field(
        None,
        description="Require the `hd` claim to be one of the allowed "
        "domains (default: yes for Google, no for other issuers).",
    )
    session_lifetime: int = Field(
        8 * 3600, ge=60, le=30 * 86400, description="Session cookie lifetime, seconds."
    )
    link_lifetime: int = Field(
        15 * 60, ge=10, le=86400, description="Signed download link lifetime, seconds."
    )
    oidc_state_lifetime: int = Field(
        600, ge=30, le=600, description="Sign-in state lifetime, seconds (≤ 600)."
    )
    oauth_code_lifetime: int = Field(
        300, ge=10, le=600, description="MCP OAuth authorization code lifetime, s."
    )
    access_token_lifetime: int = Field(
        3600, ge=60, le=86400, description="MCP OAuth access token lifetime, s."
    )
    refresh_token_lifetime: int = Field(
        30 * 86400, ge=300, le=365 * 86400, description="MCP OAuth refresh token lifetime, seconds."
    )
    grant_max_lifetime: int = Field(
        90 * 86400,
        ge=3600,
        le=365 * 86400,
        description="Longest life of one MCP OAuth grant, seconds: refreshing never extends it past "
        "its start plus this; then the member signs in again.",
    )
    revocation_file: str = Field(
        "",
        description="File of `<sub or email> <UTC time>` lines: that person's sessions and grants that "
        "started before the time are refused (see docs/admin/revocation.md). Empty: none.",
    )
    oauth_redirect_hosts: tuple[str, ...] = Field(
        ("claude.ai", "claude.com", "127.0.0.1", "localhost", "::1"),
        description="Comma-separated hosts MCP clients may register OAuth redirect URIs on "
        "(exact host names; `*` allows any https host).",
    )
    oauth_replay_max_entries: int = Field(
        200_000,
        ge=1000,
        le=10_000_000,
        description="Per process: most authorization codes and grants remembered for single use; "
        "when full, new sign-ins are refused until entries expire.",
    )
    max_body_bytes: int = Field(
        1024 * 1024, ge=1024, le=512 * 1024 * 1024, description="Largest request body accepted (413 above)."
    )
    index_expiry: Literal["refuse", "warn"] = Field(
        "refuse",
        description="What to do with an expired index: "
        "`refuse` it (degraded) or serve it with a loud `warn`ing.",
    )
    index_refresh_seconds: int = Field(
        30, ge=1, le=86400, description="Check the origin for a new index at most this often."
    )
    index_serial_floor: int = Field(
        0,
        ge=0,
        description="Refuse any index whose serial is below this (rollback protection that survives "
        "restarts; raise it after each release, or rely on SKILLPORT_STATE_DIR).",
    )
    state_dir: str = Field(
        "",
        description="Folder where the proxy keeps the highest index serial it accepted, so a restart "
        "still refuses older signed indexes (empty: not kept; use a persistent volume per replica).",
    )
    view_cache_entries: int = Field(
        256,
        ge=1,
        le=100_000,
        description="Per process: most filtered views kept (the index, marketplace, well-known and "
        "search files and catalog pages as one set of access rights sees them; members with the same "
        "access share one view), and at most as many gzip-compressed copies of large catalog responses.",
    )
    view_cache_bytes: int = Field(
        8 * 1024 * 1024,
        ge=1024 * 1024,
        le=4 * 1024 * 1024 * 1024,
        description="Per process: most bytes of filtered views kept; a view larger than a quarter of "
        "it is made again from the split file on each request instead. A quarter as many bytes more "
        "hold gzip-compressed copies of large catalog responses.",
    )
    origin_timeout_seconds: float = Field(10.0, gt=0, le=120, description="Timeout for each origin request.")
    max_origin_bytes: int = Field(
        256 * 1024 * 1024, ge=1024, description="Largest file fetched from the origin."
    )
    oidc_timeout_seconds: float = Field(
        10.0, gt=0, le=60, description="Timeout for each identity provider request (discovery, JWKS, token)."
    )
    clock_skew_seconds: int = Field(60, ge=0, le=600, description="Allowed clock skew for ID token times.")
    jwks_min_refetch_seconds: int = Field(
        60, ge=1, le=3600, description="Unknown `kid`: refetch the JWKS at most this often."
    )
    trusted_proxies: tuple[str, ...] = Field(
        (), description="Comma-separated peer IPs whose X-Forwarded-* headers are believed (empty: none)."
    )
    http_header_timeout_seconds: float = Field(
        10.0,
        gt=0,
        le=300,
        description="`skillport serve`: close a connection whose request line and headers have not "
        "all arrived this many seconds after it opened (or after its previous response): slowloris.",
    )
    http_keep_alive_seconds: int = Field(
        5, ge=1, le=300, description="`skillport serve`: close an idle kept-alive connection after this long."
    )
    max_connections: int = Field(
        1000,
        ge=10,
        le=100_000,
        description="`skillport serve`: most open connections (and requests in progress); beyond it "
        "new requests get 503. Keep it under the process's file-descriptor limit (`ulimit -n`).",
    )
    audit_log: str = Field("-", description="Audit log file (JSON lines); `-` means standard error.")
    # -- editing through the proxy (issue 7): connector/API bump, delete, publish -----------------
    marketplace_git: str = Field(
        "",
        description="Git remote of the marketplace repository that editors' changes are pushed to "
        "(any URL git understands; credentials from the environment, e.g. a credential helper). "
        "Empty: editing through Skillport is off.",
    )
    marketplace_subdir: str = Field(
        "", description="Folder of the marketplace inside that repository (empty: its root)."
    )
    publish_mode: Literal["direct", "branch"] = Field(
        "direct",
        description="`direct`: push each change to the default branch; `branch`: push it to a new "
        "`skillport/…` branch for review.",
    )
    git_author_name: str = Field(
        "Skillport", description="Commit author/committer name for editors' changes."
    )
    git_author_email: str = Field(
        "skillport@localhost", description="Commit author/committer email for editors' changes."
    )
    publish_workdir: str = Field(
        ".skillport-publish", description="Folder for the proxy's working copy of the marketplace repository."
    )
    rebuild: bool = Field(
        False,
        description="After each accepted change, rebuild the site into SKILLPORT_ORIGIN (a local "
        "folder) with SKILLPORT_SIGNING_KEYS; `skillport serve --rebuild` sets it.",
    )

    @model_validator(mode="after")
    def _rebuild_needs_local_git_site(self) -> Settings:
        if self.rebuild and not self.marketplace_git:
            raise ValueError(
                "SKILLPORT_REBUILD needs SKILLPORT_MARKETPLACE_GIT (the repository to rebuild from)"
            )
        if self.rebuild and self.origin.startswith(("http://", "https://")):
            raise ValueError("SKILLPORT_REBUILD needs SKILLPORT_ORIGIN to be a local folder, not a URL")
        return self

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an absolute http(s) URL like https://skills.corp.example/")
        if parts.query or parts.fragment:
            raise ValueError("must not have a query or fragment")
        if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("must be https:// (plain http only for localhost)")
        return value if value.endswith("/") else value + "/"

    @field_validator("oidc_issuer")
    @classmethod
    def _issuer(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be the issuer's absolute URL, e.g. https://accounts.google.com")
        if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("must be https:// (plain http only for localhost)")
        return value.rstrip("/")

    @field_validator("secret_keys", "signing_keys")
    @classmethod
    def _keys(cls, value: tuple[SecretStr, ...], info: Any) -> tuple[SecretStr, ...]:
        problems = key_problems([k.get_secret_value() for k in value], ENV_PREFIX + info.field_name.upper())
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @field_validator("revocation_file")
    @classmethod
    def _revocation_file(cls, value: str) -> str:
        if value.strip():
            from proxy.revocation import load_revocations

            try:
                load_revocations(value.strip())
            except BadInput as exc:
                raise ValueError(str(exc)) from exc
        return value.strip()

    @field_validator("oauth_redirect_hosts")
    @classmethod
    def _redirect_hosts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        out = tuple(h.strip().lower().strip("[]") for h in value if h.strip())
        for h in out:
            if h != "*" and (not h.isascii() or (any(c in h for c in "/@:?#") and h != "::1")):
                raise ValueError(f"{h!r} is not a host name like claude.ai")
        return out

    @field_validator("oidc_client_id")
    @classmethod
    def _client_id(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty: the client id from your identity provider")
        return value.strip()

    @field_validator("allowed_domains")
    @classmethod
    def _domains(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        out = tuple(d.strip().lower().lstrip("@").rstrip(".") for d in value if d.strip())
        for d in out:
            if not d.isascii() or "." not in d or "@" in d or "/" in d:
                raise ValueError(f"{d!r} is not a domain like corp.example")
        return out

    @field_validator("allowed_emails")
    @classmethod
    def _emails(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        out = tuple(e.strip().lower() for e in value if e.strip())
        for e in out:
            if e.count("@") != 1 or not e.isascii():
                raise ValueError(f"{e!r} is not an email address")
        return out

    @model_validator(mode="after")
    def _someone_allowed(self) -> Settings:
        if not self.allowed_domains and not self.allowed_emails:
            raise ValueError(
                "set SKILLPORT_ALLOWED_DOMAINS and/or SKILLPORT_ALLOWED_EMAILS: "
                "nobody could sign in otherwise"
            )
        return self

    # -- derived values ---------------------------------------------------------------------------

    @property
    def secrets(self) -> list[str]:
        return [k.get_secret_value() for k in self.secret_keys]

    @property
    def index_keys(self) -> list[str]:
        return [k.get_secret_value() for k in self.signing_keys]

    @property
    def is_https(self) -> bool:
        return self.public_url.startswith("https://")

    @property
    def public_origin(self) -> str:
        """``scheme://host[:port]`` of the public URL (for Origin checks)."""
        parts = urlsplit(self.public_url)
        return f"{parts.scheme}://{parts.netloc}"

    def url(self, path: str) -> str:
        """An absolute URL under the public URL (``path`` relative, with or without a leading /)."""
        return self.public_url + path.lstrip("/")

    @property
    def redirect_uri(self) -> str:
        return self.url("auth/callback")

    @property
    def origin_is_http(self) -> bool:
        return self.origin.startswith(("http://", "https://"))

    @property
    def origin_path(self) -> Path:
        return Path(self.origin)

    @property
    def is_google(self) -> bool:
        return self.oidc_issuer == GOOGLE_ISSUER

    @property
    def require_hd(self) -> bool:
        return self.is_google if self.oidc_require_hd is None else self.oidc_require_hd

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Build from ``SKILLPORT_*`` variables; raise ``BadInput`` naming every bad one."""
        raw: dict[str, Any] = {}
        problems: list[str] = []
        for name, field in cls.model_fields.items():
            var = ENV_PREFIX + name.upper()
            if var not in env:
                continue
            text = env[var]
            annotation = str(field.annotation)
            if name == "origin_headers":
                try:
                    parsed = json.loads(text) if text.strip() else {}
                except json.JSONDecodeError:
                    parsed = None
                if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
                    problems.append(f"{var}: must be a JSON object of header names to string values")
                    continue
                raw[name] = parsed
            elif annotation.startswith("tuple"):
                raw[name] = tuple(parse_keys(text))
            else:
                raw[name] = text
        try:
            settings = cls(**raw)
        except ValidationError as exc:
            for err in exc.errors():
                loc = ".".join(str(x) for x in err["loc"])
                var = ENV_PREFIX + loc.split(".")[0].upper() if loc else "settings"
                message = str(err["msg"]).removeprefix("Value error, ")
                if err["type"] == "missing":
                    message = "is required"
                problems.append(f"{var}: {message}")
        else:
            if not problems:
                return settings
        raise BadInput("Skillport configuration is invalid:\n" + "\n".join(f"  - {p}" for p in problems))

    @classmethod
    def field_docs(cls) -> list[tuple[str, str, str]]:
        """``(VARIABLE, default, description)`` for every setting (for --help and the docs)."""
        rows = []
        for name, field in cls.model_fields.items():
            if field.is_required():
                default = "(required)"
            elif field.default_factory is not None:
                default = "{}"
            else:
                d = field.default
                default = ",".join(d) if isinstance(d, tuple) else "auto" if d is None else str(d)
                default = default or "(empty)"
            rows.append((ENV_PREFIX + name.upper(), default, field.description or ""))
        return rows
