"""The proxy's own HTML pages (consent, signed out, sign-out, errors) in the catalog's look.

They are self-contained (one inline stylesheet, no scripts, no external resources: people who are
not signed in see them too, and the catalog's own assets are members-only) and copy the MkDocs-
Material catalog's header and palette: the site name and the ``data-md-color-primary``/``accent``
names are read from the catalog's home page (:func:`look_from_home`) whenever the index changes.
Every page says what happened, what to do next, and links home.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import HTMLResponse

# Material for MkDocs 9.x palette (``--md-primary-fg-color`` / ``--md-accent-fg-color``).
PRIMARY = {
    "red": "#ef5552", "pink": "#e92063", "purple": "#ab47bd", "deep-purple": "#7e56c2",
    "indigo": "#4051b5", "blue": "#2094f3", "light-blue": "#02a6f2", "cyan": "#00bdd6",
    "teal": "#009485", "green": "#4cae4f", "light-green": "#8bc34b", "lime": "#cbdc38",
    "yellow": "#ffec3d", "amber": "#ffc105", "orange": "#ffa724", "deep-orange": "#ff6e42",
    "brown": "#795649", "grey": "#757575", "blue-grey": "#546d78", "black": "#141618", "white": "#ffffff",
}  # fmt: skip
ACCENT = {
    "red": "#ff1a47", "pink": "#f50056", "purple": "#df41fb", "deep-purple": "#7c4dff",
    "indigo": "#526cfe", "blue": "#4287ff", "light-blue": "#0091eb", "cyan": "#00bad6",
    "teal": "#00bda4", "green": "#00c753", "light-green": "#63de17", "lime": "#b0eb00",
    "yellow": "#ffdd00", "amber": "#ffaa00", "orange": "#ff9100", "deep-orange": "#ff6e42",
}  # fmt: skip
DARK_TEXT = frozenset({"lime", "yellow", "amber", "orange", "white"})


@dataclass(frozen=True)
class Look:
    """What the proxy's pages copy from the catalog: its name and Material palette names."""

    site_name: str = "Skills catalog"
    primary: str = "deep-purple"
    accent: str = "amber"

    def __post_init__(self) -> None:
        if self.primary not in PRIMARY:
            object.__setattr__(self, "primary", "deep-purple")
        if self.accent not in ACCENT:
            object.__setattr__(self, "accent", "amber")
        name = " ".join(self.site_name.split())[:80]
        object.__setattr__(self, "site_name", name or "Skills catalog")


_PRIMARY_ATTR = re.compile(r'data-md-color-primary="([a-z-]+)"')
_ACCENT_ATTR = re.compile(r'data-md-color-accent="([a-z-]+)"')
_TOPIC = re.compile(r'class="md-header__topic"[^>]*>\s*<span class="md-ellipsis">\s*(.*?)\s*</span>', re.S)


def look_from_home(page: str) -> Look:
    """The catalog's look from its built home page (defaults for anything not found)."""
    primary = _PRIMARY_ATTR.search(page)
    accent = _ACCENT_ATTR.search(page)
    topic = _TOPIC.search(page)
    name = html.unescape(re.sub(r"<[^>]*>", "", topic.group(1))) if topic else ""
    return Look(
        site_name=name,
        primary=primary.group(1) if primary else "",
        accent=accent.group(1) if accent else "",
    )


class LookCache:
    """The catalog's look, re-read from its home page whenever a new index serial is trusted."""

    def __init__(self) -> None:
        self.serial: int | None = None
        self.look = Look()


def look_of(request: Request) -> Look:
    """The look of the app serving ``request`` (defaults before its first index, or outside it)."""
    cache = getattr(getattr(request.app.state, "skillport", None), "look", None)
    return cache.look if isinstance(cache, LookCache) else Look()


@dataclass(frozen=True)
class Action:
    """A next step: a link (GET), or a button posting a small form to this origin."""

    label: str
    href: str
    post: bool = False
    fields: tuple[tuple[str, str], ...] = ()
    name: str = ""
    value: str = ""
    primary: bool = True

    def render(self) -> str:
        cls = "sp-btn" if self.primary else "sp-btn sp-btn--plain"
        if not self.post:
            return f'<a class="{cls}" href="{html.escape(self.href)}">{html.escape(self.label)}</a>'
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in self.fields
        )
        named = f' name="{html.escape(self.name)}" value="{html.escape(self.value)}"' if self.name else ""
        return (
            f'<form method="post" action="{html.escape(self.href)}">{hidden}'
            f'<button class="{cls}" type="submit"{named}>{html.escape(self.label)}</button></form>'
        )


def paragraph(text: str) -> str:
    return f"<p>{html.escape(text)}</p>"


_STYLE = """
*{{box-sizing:border-box}}
body{{margin:0;font-family:-apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,Helvetica,Arial,
sans-serif;font-size:16px;line-height:1.6;color:rgba(0,0,0,.87);background:#fff}}
.md-header{{background:{primary};color:{on_primary};
box-shadow:0 0 .2rem rgba(0,0,0,.1),0 .2rem .4rem rgba(0,0,0,.2)}}
.md-header__inner{{display:flex;align-items:center;gap:.75rem;max-width:61rem;margin:0 auto;
padding:0 1rem;height:3rem}}
.md-header a{{color:inherit;text-decoration:none;font-weight:700;font-size:1.1rem;display:flex;
align-items:center;gap:.6rem}}
.md-header svg{{width:1.5rem;height:1.5rem;fill:currentColor}}
main{{max-width:40rem;margin:2.5rem auto;padding:0 1rem}}
h1{{font-size:1.9rem;font-weight:300;color:rgba(0,0,0,.54);margin:0 0 1rem;line-height:1.3}}
a{{color:{link}}}
.sp-note{{padding:.6rem .9rem;border-left:.2rem solid {accent};background:rgba(0,0,0,.04);
border-radius:.2rem}}
.sp-actions{{display:flex;flex-wrap:wrap;gap:.6rem;margin:1.6rem 0}}
.sp-actions form{{margin:0}}
.sp-btn{{display:inline-block;font:inherit;font-weight:700;padding:.5rem 1.2rem;border-radius:.2rem;
cursor:pointer;border:.1rem solid {primary};background:{primary};color:{on_primary};
text-decoration:none}}
.sp-btn--plain{{background:transparent;color:{link}}}
.sp-btn:hover,.sp-btn:focus{{border-color:{accent};box-shadow:0 0 0 .15rem {accent}}}
.sp-home{{font-size:.9rem;color:rgba(0,0,0,.54)}}
dl.sp-facts{{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1.2rem}}
dl.sp-facts dt{{font-weight:700;color:rgba(0,0,0,.54)}} dl.sp-facts dd{{margin:0;overflow-wrap:anywhere}}
code{{background:#f5f5f5;padding:.1rem .3rem;border-radius:.2rem;font-size:.9em;overflow-wrap:anywhere}}
"""
# Material's default logo (material/library), inline so no request is needed.
_LOGO = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" aria-hidden="true">'
    '<path d="M12 8a3 3 0 0 0 3-3 3 3 0 0 0-3-3 3 3 0 0 0-3 3 3 3 0 0 0 3 3m0 3.54C9.64 9.35 6.5 8 3 8'
    'v11c3.5 0 6.64 1.35 9 3.54 2.36-2.19 5.5-3.54 9-3.54V8c-3.5 0-6.64 1.35-9 3.54Z"/></svg>'
)


def render(
    look: Look,
    title: str,
    body: Sequence[str],
    *,
    actions: Sequence[Action] = (),
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """A page with the catalog's header; ``body`` holds HTML fragments the caller escaped."""
    on_primary = "rgba(0,0,0,.87)" if look.primary in DARK_TEXT else "#fff"
    primary = PRIMARY[look.primary]
    link = primary if look.primary not in DARK_TEXT else "#4051b5"
    style = _STYLE.format(primary=primary, on_primary=on_primary, accent=ACCENT[look.accent], link=link)
    name = html.escape(look.site_name)
    buttons = "".join(a.render() for a in actions)
    home = (
        ""
        if any(a.href == "/" for a in actions)
        else f'<p class="sp-home"><a href="/">Back to {name}</a></p>'
    )
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)} - {name}</title>"
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<style>{style}</style></head><body>"
        f'<header class="md-header"><div class="md-header__inner"><a href="/" title="{name}">{_LOGO}'
        f"<span>{name}</span></a></div></header>"
        f"<main><h1>{html.escape(title)}</h1>{''.join(body)}"
        f'<div class="sp-actions">{buttons}</div>{home}</main></body></html>'
    )
    return HTMLResponse(
        page, status_code=status, headers={"Cache-Control": "no-store", **dict(headers or {})}
    )
