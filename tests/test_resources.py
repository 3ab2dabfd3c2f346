"""Where a build finds its templates and its catalog configuration (builder/resources.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder import resources
from builder.errors import BadInput

ROOT = Path(__file__).resolve().parent.parent


def test_the_default_config_is_the_repository_mkdocs_yml_and_its_pages_resolve() -> None:
    default = resources.default_site_config()
    assert default.path.read_bytes() == (ROOT / "mkdocs.yml").read_bytes()
    assert (default.docs_base / "templates" / "pages" / "about.md").is_file()
    assert (resources.templates_dir() / "theme" / "main.html").is_file()


def test_site_config_flag_beats_the_marketplace_file_which_beats_the_default(tmp_path: Path) -> None:
    market = tmp_path / "market"
    assert resources.site_config(market) == resources.default_site_config()
    own = market / ".skillport" / "mkdocs.yml"
    own.parent.mkdir(parents=True)
    own.write_text("site_name: Ours\ntheme: {name: material}\n")
    assert resources.site_config(market) == resources.SiteConfig(own, own.parent.resolve())
    flag = tmp_path / "ci.yml"
    flag.write_text("site_name: CI\ntheme: {name: material}\n")
    assert resources.site_config(market, flag).path == flag


def test_a_missing_site_config_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match=r"--site-config .*nope\.yml: no such file"):
        resources.site_config(tmp_path, tmp_path / "nope.yml")
