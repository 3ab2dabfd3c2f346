"""The signed catalog index, typed: the one contract between the builder and its readers.

``plan.py`` writes an ``IndexDocument``; ``to_json()`` gives the canonical bytes that are signed.
``verify()`` checks those bytes (signature, type, format, serial, expiry) and returns the typed
document, with lookup maps by index name, by ``plugin:skill`` id and by zip path. Every reader (the
builder's previous-index checks, the catalog renderer, ``sync-api``, the proxy) uses these records,
so nothing re-validates the builder's output by hand.

``from_json`` is strict about types and about the values that become paths (names, zip paths,
digests) and reports the first wrong field by its path (``skills[3].zip.sha256``). Fields added to
format 1 after its first release (``id``, ``skill``, ``surface``, ``strict``, ``external``,
``components`` …) take their documented default when an older index lacks them.

Field lists are documented in ``docs/site-layout.md``; ``tests/test_index_contract.py`` checks
that the document and these records name the same fields.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from functools import cached_property
from types import MappingProxyType
from typing import Any, Literal, TypeVar

from itsdangerous import BadSignature

from builder.contract.reading import (
    BASE_URL_RE,
    LINK_RE,
    PLUGIN_NAME_RE,
    SHA256_RE,
    SKILL_KEY_RE,
    SKILL_NAME_RE,
    TIME_RE,
    ZIP_PATH_RE,
    JsonObject,
)
from builder.contract.stream import stream_object
from builder.errors import (
    IndexBadSignature,
    IndexExpired,
    IndexMalformed,
    IndexRollback,
    IndexWrongPurpose,
)
from builder.model import Version
from builder.signing import Purpose, signer

INDEX_TYPE = "skillport/index"
INDEX_FORMAT = 1  # bump when a reader of the previous format would misread the document
MAX_INDEX_BYTES = 256 * 1024 * 1024

Surface = Literal["all", "claude-code"]  # documented as its values


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _frozen(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(json.loads(json.dumps(value)))


def _plain(value: Any) -> Any:
    """A JSON value from a pass-through object (mapping proxies, tuples)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


# -- the records -----------------------------------------------------------------------------------


T = TypeVar("T")


@dataclass(frozen=True)
class ZipRecord:
    """A published zip: its site path, the sha256 and size of its bytes, and the packaging key that
    says when a later build may reuse it."""

    path: str
    sha256: str
    size: int
    key: str | None = None

    @classmethod
    def from_json(cls, o: JsonObject) -> ZipRecord:
        path = o.text("path", pattern=ZIP_PATH_RE)
        if ".." in path.split("/"):
            raise IndexMalformed(f"index.json: {o.where}.path {path!r} must not contain '..'")
        return cls(path, o.text("sha256", pattern=SHA256_RE), o.integer("size"), o.opt_text("key"))

    @property
    def file(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "size": self.size, "key": self.key}


@dataclass(frozen=True)
class FileRecord:
    """One file of a skill as in the repository: path, size, Agent Skills digest."""

    path: str
    size: int
    digest: str | None = None

    @classmethod
    def from_json(cls, o: JsonObject) -> FileRecord:
        return cls(o.text("path"), o.integer("size", default=0), o.opt_text("digest"))

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "digest": self.digest}


@dataclass(frozen=True)
class HistoryEntry:
    """One change to a skill, from Git: the version it carried, the date, commit and subject."""

    version: str
    date: str
    commit: str
    subject: str

    @classmethod
    def from_json(cls, o: JsonObject) -> HistoryEntry:
        return cls(
            o.text("version", default=""),
            o.text("date", default=""),
            o.text("commit", default=""),
            o.text("subject", default=""),
        )

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "date": self.date, "commit": self.commit, "subject": self.subject}


@dataclass(frozen=True)
class Component:
    """A command, agent, hook event, MCP/LSP server or output style a plugin installs."""

    kind: str
    name: str
    description: str
    path: str

    @classmethod
    def from_json(cls, o: JsonObject) -> Component:
        return cls(
            o.text("kind"), o.text("name"), o.text("description", default=""), o.text("path", default="")
        )

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "description": self.description, "path": self.path}


@dataclass(frozen=True)
class Rule:
    """Who may read and who may edit (principals: ``*``, an email, ``@domain`` or a group)."""

    read: tuple[str, ...]
    edit: tuple[str, ...]

    @classmethod
    def from_json(cls, o: JsonObject, default: Rule | None = None) -> Rule:
        read = o.texts("read") if o.has("read") or default is None else default.read
        edit = o.texts("edit") if o.has("edit") or default is None else default.edit
        return cls(read, edit)

    def to_json(self) -> dict[str, Any]:
        return {"read": list(self.read), "edit": list(self.edit)}


EVERYONE_READS = Rule(("*",), ())


@dataclass(frozen=True)
class AccessSection:
    """The marketplace's access rules, each plugin's rule complete (verbs filled from ``default``)."""

    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    default: Rule = EVERYONE_READS
    plugins: Mapping[str, Rule] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "groups", MappingProxyType(dict(self.groups)))
        object.__setattr__(self, "plugins", MappingProxyType(dict(self.plugins)))

    @classmethod
    def from_json(cls, o: JsonObject) -> AccessSection:
        default = Rule.from_json(o.obj("default"), EVERYONE_READS) if o.has("default") else EVERYONE_READS
        groups_obj = o.opt_obj("groups")
        plugins_obj = o.opt_obj("plugins")
        return cls(
            {str(g): groups_obj.texts(g) for g in groups_obj.value} if groups_obj else {},
            default,
            {str(p): Rule.from_json(plugins_obj.obj(p), default) for p in plugins_obj.value}
            if plugins_obj
            else {},
        )

    def rule(self, plugin: str) -> Rule:
        return self.plugins.get(plugin, self.default)

    def to_json(self) -> dict[str, Any]:
        return {
            "groups": {g: list(m) for g, m in self.groups.items()},
            "default": self.default.to_json(),
            "plugins": {p: r.to_json() for p, r in self.plugins.items()},
        }


@dataclass(frozen=True)
class MarketplaceInfo:
    name: str
    owner: Mapping[str, Any] = field(default_factory=dict)  # marketplace.json's owner, passed through
    description: str = ""
    repository: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "owner", _frozen(self.owner))

    @classmethod
    def from_json(cls, o: JsonObject) -> MarketplaceInfo:
        owner = o.opt_obj("owner")
        return cls(
            o.text("name"),
            owner.value if owner else {},
            o.text("description", default=""),
            o.opt_text("repository", pattern=LINK_RE),
        )

    def owner_field(self, key: str) -> str:
        value = self.owner.get(key)
        return value if isinstance(value, str) else ""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "owner": _plain(self.owner),
            "description": self.description,
            "repository": self.repository,
        }


@dataclass(frozen=True)
class SourceInfo:
    """Where the build came from: the Git commit (when a checkout) and the marketplace path."""

    commit: str | None = None
    path: str | None = None

    @classmethod
    def from_json(cls, o: JsonObject) -> SourceInfo:
        return cls(o.opt_text("commit"), o.opt_text("path"))

    def to_json(self) -> dict[str, Any]:
        return {"commit": self.commit, "path": self.path}


@dataclass(frozen=True)
class PluginEntry:
    """A published plugin (``external``: Claude Code fetches it from its own ``source`` object)."""

    name: str
    version: str | None
    description: str = ""
    author: str | None = None
    category: str | None = None
    tags: tuple[str, ...] = ()
    skills: tuple[str, ...] = ()  # index names of its skills
    source: str | Mapping[str, Any] = ""
    repository: str | None = None
    strict: bool = True
    external: bool = False
    digest: str | None = None
    components: tuple[Component, ...] = ()
    zip: ZipRecord | None = None

    def __post_init__(self) -> None:
        if isinstance(self.source, Mapping):
            object.__setattr__(self, "source", _frozen(self.source))

    @classmethod
    def from_json(cls, o: JsonObject) -> PluginEntry:
        source: str | Mapping[str, Any]
        raw = o.value.get("source", "")
        source = o.obj("source").value if isinstance(raw, Mapping) else o.text("source", default="")
        z = o.opt_obj("zip")
        return cls(
            name=o.text("name", pattern=PLUGIN_NAME_RE),
            version=o.opt_text("version"),
            description=o.text("description", default=""),
            author=o.opt_text("author"),
            category=o.opt_text("category"),
            tags=o.texts("tags"),
            skills=o.texts("skills"),
            source=source,
            repository=o.opt_text("repository", pattern=LINK_RE),
            strict=o.flag("strict", True),
            external=o.flag("external", False),
            digest=o.opt_text("digest"),
            components=o.items("components", Component.from_json),
            zip=ZipRecord.from_json(z) if z else None,
        )

    @property
    def source_kind(self) -> str:
        """``github``, ``url``, ``git-subdir``, ``npm`` … for an external plugin, else ``""``."""
        if isinstance(self.source, Mapping):
            return str(self.source.get("source") or "")
        return ""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "author": self.author,
            "category": self.category,
            "tags": list(self.tags),
            "skills": list(self.skills),
            "source": _plain(self.source),
            "repository": self.repository,
            "strict": self.strict,
            "external": self.external,
            "digest": self.digest,
            "components": [c.to_json() for c in self.components],
            "zip": self.zip.to_json() if self.zip else None,
        }


@dataclass(frozen=True)
class SkillEntry:
    """A published skill. ``name`` is its index name (bare, or ``plugin.skill`` when shared), ``id``
    its ``plugin:skill`` identity, ``skill`` its folder name; ``zip`` is ``None`` for a Claude Code
    only skill (``surface: claude-code``)."""

    name: str
    plugin: str
    version: str
    skill: str = ""
    id: str = ""
    description: str = ""
    license: str | None = None
    compatibility: str | None = None
    allowed_tools: str | None = None
    tags: tuple[str, ...] = ()
    category: str | None = None
    author: str | None = None
    digest: str | None = None
    files: tuple[FileRecord, ...] = ()
    surface: Surface = "all"
    zip: ZipRecord | None = None
    updated_at: str | None = None
    history: tuple[HistoryEntry, ...] = ()
    scan: Mapping[str, Any] | None = None  # builder/scan.py's record: scanner, status, findings
    versions: tuple[Mapping[str, Any], ...] = ()  # builder/changes.py: each version's note and files

    def __post_init__(self) -> None:
        if not self.skill:
            object.__setattr__(self, "skill", self.name.rsplit(".", 1)[-1])
        if not self.id:
            object.__setattr__(self, "id", f"{self.plugin}:{self.skill}")

    @classmethod
    def from_json(cls, o: JsonObject) -> SkillEntry:
        name = o.text("name", pattern=SKILL_KEY_RE)
        if len(name) > 129:
            raise IndexMalformed(f"index.json: {o.where}.name is longer than 129 characters")
        z = o.opt_obj("zip")
        surface = o.text("surface", default="all" if z else "claude-code")
        if surface not in ("all", "claude-code"):
            raise IndexMalformed(
                f"index.json: {o.where}.surface must be 'all' or 'claude-code', not {surface!r}"
            )
        version = o.text("version")
        if not Version.is_valid(version):
            raise IndexMalformed(f"index.json: {o.where}.version {version!r} is not SemVer")
        return cls(
            name=name,
            plugin=o.text("plugin", pattern=PLUGIN_NAME_RE),
            version=version,
            skill=o.text("skill", pattern=SKILL_NAME_RE) if o.has("skill") else "",
            id=o.text("id") if o.has("id") else "",
            description=o.text("description", default=""),
            license=o.opt_text("license"),
            compatibility=o.opt_text("compatibility"),
            allowed_tools=o.opt_text("allowed_tools"),
            tags=o.texts("tags"),
            category=o.opt_text("category"),
            author=o.opt_text("author"),
            digest=o.opt_text("digest"),
            files=o.items("files", FileRecord.from_json),
            surface="all" if surface == "all" else "claude-code",
            zip=ZipRecord.from_json(z) if z else None,
            updated_at=o.opt_text("updated_at"),
            history=o.items("history", HistoryEntry.from_json),
            scan=o.obj("scan").value if o.has("scan") else None,
            versions=o.items("versions", lambda v: v.value),
        )

    def file_size(self, path: str) -> int:
        return next((f.size for f in self.files if f.path == path), 0)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "id": self.id,
            "skill": self.skill,
            "plugin": self.plugin,
            "version": self.version,
            "description": self.description,
            "license": self.license,
            "compatibility": self.compatibility,
            "allowed_tools": self.allowed_tools,
            "tags": list(self.tags),
            "category": self.category,
            "author": self.author,
            "digest": self.digest,
            "files": [f.to_json() for f in self.files],
            "surface": self.surface,
            "zip": self.zip.to_json() if self.zip else None,
            "updated_at": self.updated_at,
            "history": [h.to_json() for h in self.history],
            **({"scan": dict(self.scan)} if self.scan is not None else {}),
            **({"versions": [dict(v) for v in self.versions]} if self.versions else {}),
        }


@dataclass(frozen=True)
class IndexDocument:
    """The whole index. ``access`` is ``None`` only in an index without access rules (everyone
    reads, nobody edits); the builder always writes them."""

    serial: int
    generated_at: str
    expires_at: str
    marketplace: MarketplaceInfo
    plugins: tuple[PluginEntry, ...] = ()
    skills: tuple[SkillEntry, ...] = ()
    base_url: str | None = None
    source: SourceInfo = SourceInfo()
    access: AccessSection | None = None
    format: int = INDEX_FORMAT

    def __post_init__(self) -> None:
        if self.serial < 1:
            raise IndexMalformed("index.json: serial must be a positive integer")
        names = [s.name for s in self.skills]
        if len(set(names)) != len(names):
            dup = next(n for n in names if names.count(n) > 1)
            raise IndexMalformed(f"index.json: skill {dup!r} appears twice; index names are unique")
        plugin_names = {p.name for p in self.plugins}
        if len(plugin_names) != len(self.plugins):
            raise IndexMalformed("index.json: a plugin appears twice in 'plugins'")
        for i, s in enumerate(self.skills):
            if s.plugin not in plugin_names and self.plugins:
                raise IndexMalformed(
                    f"index.json: skills[{i}] ({s.name}) names plugin {s.plugin!r}, which is not in 'plugins'"
                )

    # -- reading and writing ------------------------------------------------------------------

    @classmethod
    def from_json(cls, data: bytes | str | Mapping[str, Any]) -> IndexDocument:
        """The typed document of ``data`` (bytes, text or parsed JSON); ``IndexMalformed`` naming the
        first wrong field otherwise. Checks no signature: see ``verify``."""
        if isinstance(data, bytes | str):
            try:
                data = json.loads(data)
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise IndexMalformed(f"the index is not valid JSON: {exc}") from exc
        if not isinstance(data, Mapping) or data.get("_type") != INDEX_TYPE:
            raise IndexMalformed(f"the document is not a Skillport index (_type must be {INDEX_TYPE!r})")
        missing = [f for f in REQUIRED_FIELDS if f not in data]
        if missing:
            raise IndexMalformed(f"the index lacks {', '.join(missing)}")
        o = JsonObject(data, "")
        version = o.integer("format", minimum=1)
        if version != INDEX_FORMAT:
            raise IndexMalformed(
                f"index.json: format {version} is not understood here (this Skillport reads format "
                f"{INDEX_FORMAT}); upgrade Skillport or rebuild the site"
            )
        serial = o.value.get("serial")
        if not isinstance(serial, int) or isinstance(serial, bool) or serial < 1:
            raise IndexMalformed("the index serial must be a positive integer")
        src = o.opt_obj("source")
        access = o.opt_obj("access")
        return cls(
            serial=serial,
            generated_at=o.text("generated_at", pattern=TIME_RE),
            expires_at=o.text("expires_at", pattern=TIME_RE),
            marketplace=MarketplaceInfo.from_json(o.obj("marketplace")),
            plugins=o.items("plugins", PluginEntry.from_json),
            skills=o.items("skills", SkillEntry.from_json),
            base_url=o.opt_text("base_url", pattern=BASE_URL_RE),
            source=SourceInfo.from_json(src) if src else SourceInfo(),
            access=AccessSection.from_json(access) if access else None,
            format=version,
        )

    def to_dict(self, *, with_access: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "_type": INDEX_TYPE,
            "format": self.format,
            "serial": self.serial,
            "generated_at": self.generated_at,
            "expires_at": self.expires_at,
            "base_url": self.base_url,
            "source": self.source.to_json(),
            "marketplace": self.marketplace.to_json(),
            "plugins": [p.to_json() for p in self.plugins],
            "skills": [s.to_json() for s in self.skills],
        }
        if with_access:
            out["access"] = self.access.to_json() if self.access else None
        return out

    def to_json(self) -> bytes:
        """The canonical bytes that are signed (sorted keys, UTF-8, newline-terminated). They are read
        back through ``from_json`` first, so no writer can publish an index its readers refuse
        (``IndexMalformed`` names the field)."""
        data = encode(self.to_dict())
        IndexDocument.from_json(json.loads(data))
        return data

    # -- lookups --------------------------------------------------------------------------------

    def derived(self, key: str, make: Callable[[IndexDocument], T]) -> T:
        """A read-only structure derived from this document (the proxy's search catalog), built once
        per document and dropped with it, like the lookup maps below."""
        memo: dict[str, Any] = self.__dict__.setdefault("_derived", {})
        if key not in memo:
            memo[key] = make(self)
        return memo[key]  # type: ignore[no-any-return]

    @cached_property
    def by_name(self) -> Mapping[str, SkillEntry]:
        return MappingProxyType({s.name: s for s in self.skills})

    @cached_property
    def by_id(self) -> Mapping[str, SkillEntry]:
        return MappingProxyType({s.id: s for s in self.skills})

    @cached_property
    def plugins_by_name(self) -> Mapping[str, PluginEntry]:
        return MappingProxyType({p.name: p for p in self.plugins})

    @cached_property
    def by_zip(self) -> Mapping[str, tuple[str, ZipRecord]]:
        """Zip path -> (plugin name, record), for every skill and plugin zip the index lists."""
        out: dict[str, tuple[str, ZipRecord]] = {}
        for s in self.skills:
            if s.zip:
                out[s.zip.path] = (s.plugin, s.zip)
        for p in self.plugins:
            if p.zip:
                out[p.zip.path] = (p.name, p.zip)
        return MappingProxyType(out)

    def skill(self, ref: str) -> SkillEntry | None:
        """The skill a reference names: its index name or its ``plugin:skill`` id."""
        return self.by_name.get(ref) or self.by_id.get(ref)

    def skills_of(self, plugin: str) -> tuple[SkillEntry, ...]:
        return tuple(s for s in self.skills if s.plugin == plugin)

    def with_entries(self, plugins: Sequence[PluginEntry], skills: Sequence[SkillEntry]) -> IndexDocument:
        """This document with more plugins and skills (kept from the previous site), sorted by name."""
        return replace(
            self,
            plugins=tuple(sorted([*self.plugins, *plugins], key=lambda p: p.name)),
            skills=tuple(sorted([*self.skills, *skills], key=lambda s: s.name)),
        )

    def with_only(self, *, plugins: Sequence[PluginEntry], skills: Sequence[SkillEntry]) -> IndexDocument:
        """This document restricted to some of its plugins and skills (what a member may read)."""
        return replace(self, plugins=tuple(plugins), skills=tuple(skills))

    @property
    def expires(self) -> datetime:
        return parse_time(self.expires_at)


REQUIRED_FIELDS = (
    "_type",
    "format",
    "serial",
    "generated_at",
    "expires_at",
    "marketplace",
    "plugins",
    "skills",
)
RECORDS: tuple[type, ...] = (
    IndexDocument,
    MarketplaceInfo,
    SourceInfo,
    AccessSection,
    Rule,
    PluginEntry,
    SkillEntry,
    ZipRecord,
    FileRecord,
    HistoryEntry,
    Component,
)


def json_fields(record: type) -> tuple[str, ...]:
    """The JSON field names a record writes (its dataclass fields, plus ``_type`` for the document)."""
    names = tuple(f.name for f in fields(record))
    return ("_type", *names) if record is IndexDocument else names


# -- bytes, signature, serial ----------------------------------------------------------------------


def encode(document: Mapping[str, Any]) -> bytes:
    """Canonical bytes of an index document: sorted keys, UTF-8, newline-terminated."""
    return (json.dumps(document, sort_keys=True, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def sign(data: bytes, keys: Sequence[str]) -> bytes:
    """Detached signature over ``data`` with the newest key."""
    return signer(keys, Purpose.INDEX).get_signature(data) + b"\n"


def next_serial(previous_serial: int | None, now: datetime) -> int:
    """Serials only grow: at least the previous one + 1, and at least the build's Unix time, so a
    build without the previous index at hand still outranks every earlier one."""
    floor = int(now.timestamp())
    return max(floor, (previous_serial or 0) + 1)


def _signature_matches(data: bytes, signature: bytes, keys: Sequence[str], purpose: Purpose) -> bool:
    try:
        return signer(keys, purpose).verify_signature(data, signature)
    except (BadSignature, ValueError):
        return False


SHARED_STRING_CHARS = 256  # strings up to this long that repeat (versions, times, file names) are kept once


def _share_strings(value: Any, seen: dict[str, str]) -> None:
    """Make equal short strings inside ``value`` (parsed JSON) one object each, in place."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for k, v in items:
        if isinstance(v, str):
            if len(v) <= SHARED_STRING_CHARS:
                value[k] = seen.setdefault(v, v)
        elif isinstance(v, dict | list):
            _share_strings(v, seen)


def _read_streaming(data: bytes) -> tuple[Mapping[str, Any], IndexDocument] | None:
    """``(top-level fields, document)`` read one plugin and skill at a time (``stream.py``): a large
    index never exists whole as parsed JSON next to its typed document. ``None`` when anything is
    unusual (the caller then reads it whole, which names the problem exactly as before)."""
    makers: dict[str, Callable[[JsonObject], Any]] = {
        "plugins": PluginEntry.from_json,
        "skills": SkillEntry.from_json,
    }
    seen: dict[str, str] = {}

    def make(key: str, i: int, value: Any) -> Any:
        _share_strings(value, seen)
        return makers[key](JsonObject(value, f"{key}[{i}]"))

    try:
        members = stream_object(data.decode("utf-8"), makers, make)
        if members is None or members.get("_type") != INDEX_TYPE:
            return None
        entries = {k: tuple(members[k]) for k in makers if isinstance(members.get(k), list)}
        document = IndexDocument.from_json({**members, **{k: [] for k in entries}})
        plugins, skills = entries.get("plugins", document.plugins), entries.get("skills", document.skills)
        return members, replace(document, plugins=plugins, skills=skills)
    except (UnicodeDecodeError, json.JSONDecodeError, IndexMalformed, RecursionError):
        return None


def verify(
    data: bytes,
    signature: bytes | str | None,
    keys: Sequence[str],
    *,
    now: datetime,
    trusted_serial: int | None = None,
    allow_expired: bool = False,
) -> IndexDocument:
    """Check an index's signature, type, format, serial and expiry; return the typed document.

    Raises ``IndexBadSignature`` (tampered, swapped or missing signature), ``IndexWrongPurpose``
    (a valid signature made for something else), ``IndexMalformed`` (not an index of this format,
    or a field of the wrong type), ``IndexRollback`` (serial lower than ``trusted_serial``) or
    ``IndexExpired`` (unless ``allow_expired``)."""
    if isinstance(signature, str):
        signature = signature.encode("ascii", "replace")
    signature = (signature or b"").strip()
    if not signature:
        raise IndexBadSignature("the index has no signature (index.json.sig missing or empty)")
    if len(data) > MAX_INDEX_BYTES:
        raise IndexMalformed(f"the index is larger than {MAX_INDEX_BYTES} bytes")
    if not _signature_matches(data, signature, keys, Purpose.INDEX):
        for other in Purpose:
            if other is not Purpose.INDEX and _signature_matches(data, signature, keys, other):
                raise IndexWrongPurpose(f"the signature was made for {other.value!r}, not for an index")
        raise IndexBadSignature(
            "the index signature does not match its bytes under any configured key "
            "(tampered, swapped, or signed with a key not in SKILLPORT_SIGNING_KEYS)"
        )
    streamed = _read_streaming(data)
    try:
        raw = streamed[0] if streamed is not None else json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexMalformed(f"the index is not valid JSON: {exc}") from exc
    if isinstance(raw, Mapping) and raw.get("_type") == INDEX_TYPE:
        serial = raw.get("serial")
        if isinstance(serial, int) and trusted_serial is not None and 1 <= serial < trusted_serial:
            raise IndexRollback(f"index serial {serial} is older than the trusted serial {trusted_serial}")
    document = streamed[1] if streamed is not None else IndexDocument.from_json(raw)
    if now >= document.expires and not allow_expired:
        raise IndexExpired(f"the index expired at {document.expires_at}; rebuild and republish the site")
    return document


# -- the documentation's field table ---------------------------------------------------------------

WHERE: Mapping[type, str] = MappingProxyType(
    {
        IndexDocument: "the document",
        SourceInfo: "`source`",
        MarketplaceInfo: "`marketplace`",
        AccessSection: "`access`",
        Rule: "`access.default`, `access.plugins.<plugin>`",
        PluginEntry: "`plugins[]`",
        Component: "`plugins[].components[]`",
        ZipRecord: "`plugins[].zip`, `skills[].zip`",
        SkillEntry: "`skills[]`",
        FileRecord: "`skills[].files[]`",
        HistoryEntry: "`skills[].history[]`",
    }
)


def field_table() -> str:
    """The Markdown table of every record and its JSON fields (``docs/site-layout.md`` embeds it)."""
    rows = ["| Record | Where | Fields |", "|---|---|---|"]
    for record in RECORDS:
        types = {f.name: str(f.type).replace(" | ", " or ") for f in fields(record)}
        listed = ", ".join(
            f"`{name}`" + (f" ({types[name]})" if name in types else "") for name in json_fields(record)
        )
        rows.append(f"| `{record.__name__}` | {WHERE[record]} | {listed} |")
    return "\n".join(rows).replace("(Surface)", "('all' or 'claude-code')") + "\n"
