"""Package data: the catalog's page templates, theme overrides, default extra pages, the authoring
templates and the default ``mkdocs.yml`` — read through ``importlib.resources``, so a regular
(non-editable) install builds exactly like a checkout.

In the repository they stay where a newcomer looks for them (``templates/`` and ``mkdocs.yml`` at the
top); ``pyproject.toml`` maps ``templates/`` to the package ``builder.templates`` and
``templates/mkdocs.yml`` is a link to the top-level file.

The catalog's configuration is, in order: ``skillport build --site-config FILE``; the marketplace's
own ``.skillport/mkdocs.yml``; the default. A configuration's ``docs_dir`` (extra pages) is relative
to the folder holding it — for the default, the folder holding ``templates/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from builder.errors import BadInput, NotConfigured

PACKAGE = "builder.templates"
MARKETPLACE_CONFIG = ".skillport/mkdocs.yml"


def templates_dir() -> Path:
    """The installed ``templates/`` folder (``builder.templates``)."""
    root = files(PACKAGE)
    if not isinstance(root, Path) or not root.is_dir():
        raise NotConfigured(
            f"Skillport's templates ({PACKAGE}) are not installed as a folder; "
            "install the skillport package from a wheel or a checkout (not a zip)"
        )
    return root


@dataclass(frozen=True)
class SiteConfig:
    """The ``mkdocs.yml`` a build reads and the folder its ``docs_dir`` is relative to."""

    path: Path
    docs_base: Path


def default_site_config() -> SiteConfig:
    templates = templates_dir()
    return SiteConfig(templates / "mkdocs.yml", templates.parent)


def site_config(marketplace_dir: Path, explicit: Path | None = None) -> SiteConfig:
    """``explicit`` (``--site-config``), else the marketplace's ``.skillport/mkdocs.yml``, else the
    default."""
    if explicit is not None:
        if not explicit.is_file():
            raise BadInput(
                f"--site-config {explicit}: no such file (give an mkdocs.yml to build the catalog with)"
            )
        return SiteConfig(explicit, explicit.resolve().parent)
    own = marketplace_dir / MARKETPLACE_CONFIG
    if own.is_file():
        return SiteConfig(own, own.resolve().parent)
    return default_site_config()
