"""How to install a skill on each Claude surface: one definition for the catalog pages and the
connector's ``install`` action (pure; no I/O).

Every command and settings block here is run by ``tests/test_install_lines.py`` against a live proxy
(real Claude Code for the Claude Code lines), so what a page or the connector tells a member works
behind the proxy's sign-in. Steps are typed so each consumer can render them: the pages as HTML code
blocks (with a copy button), the connector as short text lines.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

# Claude Code versions checked here: 2.1.197 refuses `archive` plugin sources, 2.1.332 installs them.
MIN_CLAUDE_CODE_FOR_ARCHIVES = "2.1.332"

StepKind = Literal["text", "shell", "claude", "settings", "download"]
SurfaceId = Literal["claude-ai", "claude-code", "claude-code-web", "other-agents"]


@dataclass(frozen=True)
class Step:
    """One step: ``text`` is prose (`backticks` mark code); ``shell`` a terminal command; ``claude`` a
    command typed inside Claude Code; ``settings`` a JSON block for ``~/.claude/settings.json``;
    ``download`` the zip."""

    kind: StepKind
    text: str

    def line(self) -> str:
        """The step as one line of plain text (the connector's answer)."""
        if self.kind == "shell":
            return f"In a terminal: {self.text}"
        if self.kind == "claude":
            return f"In Claude Code: {self.text}"
        if self.kind == "settings":
            return (
                f"Add to ~/.claude/settings.json: {json.dumps(json.loads(self.text), separators=(',', ':'))}"
            )
        if self.kind == "download":
            return f"Download the zip: {self.text}"
        return self.text


@dataclass(frozen=True)
class Surface:
    id: SurfaceId
    title: str
    steps: tuple[Step, ...]

    def lines(self) -> list[str]:
        return [s.line() for s in self.steps]


@dataclass(frozen=True)
class Target:
    """What is being installed, and where the catalog lives."""

    catalog_url: str  # ends with "/"
    marketplace: str
    plugin: str
    skill: str = ""  # empty on a plugin's page
    zip_file: str = ""
    download: str = ""  # a URL (page: relative to the page; connector: a signed link)


def settings_block(catalog_url: str, marketplace: str) -> str:
    """Claude Code's settings: the catalog's marketplace by URL, signed in by ``skillport auth-header``."""
    source = {
        "source": "url",
        "url": f"{catalog_url}claude-code/marketplace.json",
        "headersHelper": "skillport auth-header",
    }
    return json.dumps({"extraKnownMarketplaces": {marketplace: {"source": source}}}, indent=2)


def connector_url(catalog_url: str) -> str:
    return f"{catalog_url}mcp"


def claude_ai(t: Target) -> Surface:
    return Surface(
        "claude-ai",
        "Claude.ai, Claude Desktop and Claude mobile",
        (
            Step("download", t.download),
            Step(
                "text",
                "In Claude.ai or Claude Desktop open Settings › Capabilities; code execution must be on.",
            ),
            Step(
                "text",
                f"Under Skills choose Upload skill and select `{t.zip_file}`; it appears, switched on.",
            ),
            Step(
                "text",
                "Claude mobile gets the skill from your account; there is nothing to install on the phone.",
            ),
            Step(
                "text",
                "Or connect Claude to this catalog once (Settings › Connectors › Add custom connector, "
                f"URL `{connector_url(t.catalog_url)}`) and ask Claude to find and install skills.",
            ),
        ),
    )


def claude_code(t: Target) -> Surface:
    """Claude Code: the marketplace by URL (whole plugin), or one skill with the CLI, or the connector.
    On a plugin's page (``t.skill`` empty) the fallback points at the skills' own pages."""
    version_note = (
        f"Plugin installs need Claude Code {MIN_CLAUDE_CODE_FOR_ARCHIVES} or later (archive plugin sources)."
    )
    if t.skill and not t.zip_file:
        single: tuple[Step, ...] = (
            Step("text", f"{version_note} This skill is Claude Code only: it installs with its plugin."),
        )
    elif t.skill:
        single = (
            Step(
                "text",
                f"{version_note} On an older version, or for just this skill, install it into "
                "`~/.claude/skills`:",
            ),
            Step("shell", f"skillport install {t.skill}"),
        )
    else:
        single = (
            Step(
                "text",
                f"{version_note} On an older version, install its skills one at a time into "
                "`~/.claude/skills` with `skillport install NAME` (each skill's page shows the line).",
            ),
        )
    return Surface(
        "claude-code",
        "Claude Code",
        (
            Step("text", "Sign in to the catalog once with the Skillport CLI (it opens your browser):"),
            Step("shell", f"skillport login --server {t.catalog_url}"),
            Step(
                "text",
                "Declare the catalog as a plugin marketplace in `~/.claude/settings.json` (Claude Code adds "
                "it at its next start and signs in with `skillport auth-header`), then install the plugin:",
            ),
            Step("settings", settings_block(t.catalog_url, t.marketplace)),
            Step("claude", f"/plugin install {t.plugin}@{t.marketplace}"),
            *single,
            Step("text", "Or add the Skillport connector, then run `/mcp` in Claude Code to sign in:"),
            Step(
                "shell",
                f"claude mcp add --transport http --scope user skillport {connector_url(t.catalog_url)}",
            ),
        ),
    )


def claude_code_web(t: Target) -> Surface:
    return Surface(
        "claude-code-web",
        "Claude Code on the web",
        (
            Step(
                "text",
                "The cloud session has no browser: in its terminal, sign in with the Skillport CLI (open the "
                "printed link on any device, sign in, paste the code back), then install the skill into the "
                "session:",
            ),
            Step("shell", f"skillport login --server {t.catalog_url}"),
            Step("shell", f"skillport install {t.skill}"),
        ),
    )


def other_agents(t: Target) -> Surface:
    return Surface(
        "other-agents",
        "Other agents",
        (
            Step(
                "text",
                "Agents that read the open Agent Skills format find every skill you may read in the "
                f"catalog's well-known index, `{t.catalog_url}.well-known/agent-skills/index.json` (send the "
                "header `skillport auth-header` prints). To put this skill into an agent's skills folder:",
            ),
            Step("shell", f"skillport install {t.skill} --target ./skills"),
        ),
    )


def surfaces(t: Target) -> tuple[Surface, ...]:
    """Every surface's steps, in the order the pages show them."""
    return (claude_ai(t), claude_code(t), claude_code_web(t), other_agents(t))


def for_surface(t: Target, surface: str) -> Surface:
    """The steps for the connector's ``surface`` argument (``desktop`` is Claude.ai's upload too)."""
    wanted = "claude-ai" if surface == "desktop" else surface
    return next((s for s in surfaces(t) if s.id == wanted), claude_ai(t))
