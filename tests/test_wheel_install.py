"""A regular (non-editable) install builds and serves the example (issue 14, item 5).

The wheel is built from this checkout (``pip wheel . --no-deps``; setuptools from the registry),
installed into a fresh virtualenv with ``--no-deps``; the third-party dependencies come
from the test environment's own site-packages, appended to the new environment's path (a plain path
line: none of that environment's ``.pth`` hooks — such as this checkout's editable install — run).
Both commands run from a folder outside the checkout, so nothing can be imported from the source
tree: the templates, theme and default ``mkdocs.yml`` must come from the installed package data.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.connector import SIGNING_KEY, free_port, proxy_env
from tests.support.servers import wait_until_up

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "marketplace"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``bin`` folder of a fresh virtualenv with the skillport wheel installed."""
    root = tmp_path_factory.mktemp("wheel")
    dist = root / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(ROOT),
            "--no-deps",
            "-q",
            "-w",
            str(dist),
        ],
        check=True,
        cwd=root,
        timeout=120,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    (wheel,) = dist.glob("skillport-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "builder/templates/mkdocs.yml" in names and "builder/templates/theme/main.html" in names
    assert "builder/client/member.py" in names and "builder/authoring/plans.py" in names
    env_dir = root / "venv"
    venv.EnvBuilder(with_pip=False, system_site_packages=False).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
        check=True,
        cwd=root,
        timeout=120,
    )
    site_packages = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site_packages) / "deps-from-tests.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return env_dir / "bin"


def run(
    bin_dir: Path, cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(bin_dir / "skillport"), *args],
        cwd=cwd,
        env={"PATH": os.environ["PATH"], "HOME": str(cwd), "NO_MKDOCS_2_WARNING": "1", **(env or {})},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_the_installed_package_is_not_the_checkout(installed: Path, tmp_path: Path) -> None:
    found = subprocess.run(
        [str(installed / "python"), "-c", "import builder.resources as r; print(r.templates_dir())"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert "site-packages" in found and not found.startswith(str(ROOT))


@pytest.fixture(scope="module")
def built(installed: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("build")
    done = run(
        installed,
        work,
        "build",
        str(EXAMPLE),
        "--out",
        str(work / "site"),
        env={"SKILLPORT_SIGNING_KEYS": SIGNING_KEY},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return work / "site"


def test_installed_wheel_builds_the_example_catalog(built: Path) -> None:
    assert json.loads((built / "index.json").read_text())["skills"]
    home = (built / "index.html").read_text()
    assert "Skills catalog" in home  # the default mkdocs.yml's site_name, read from the package
    assert (built / "about" / "index.html").is_file()  # its extra page (templates/pages) too


def test_site_config_customizes_the_catalog(installed: Path, tmp_path: Path) -> None:
    config = tmp_path / "custom.yml"
    config.write_text("site_name: Acme skills\ntheme:\n  name: material\n")
    done = run(
        installed,
        tmp_path,
        "build",
        str(EXAMPLE),
        "--out",
        str(tmp_path / "site"),
        "--site-config",
        str(config),
        env={"SKILLPORT_SIGNING_KEYS": SIGNING_KEY},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Acme skills" in (tmp_path / "site" / "index.html").read_text()
    missing = run(
        installed,
        tmp_path,
        "build",
        str(EXAMPLE),
        "--out",
        str(tmp_path / "x"),
        "--site-config",
        "nope.yml",
        env={"SKILLPORT_SIGNING_KEYS": SIGNING_KEY},
    )
    assert missing.returncode != 0 and "--site-config nope.yml: no such file" in missing.stderr


@pytest.fixture()
def serving(installed: Path, built: Path, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = proxy_env(built, "http://127.0.0.1:9", port, tmp_path / "audit.jsonl")
    process = subprocess.Popen(
        [str(installed / "skillport"), "serve", "--port", str(port)],
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url + "/healthz", process, 30, "skillport serve")
        yield url
    finally:
        process.terminate()
        process.wait(10)


def test_installed_wheel_serves_the_built_example(serving: str, built: Path) -> None:
    assert httpx.get(serving + "/healthz").text == "ok"
    serial = json.loads((built / "index.json").read_text())["serial"]
    assert httpx.get(serving + "/readyz").json() == {"status": "ready", "serial": serial}
    assert httpx.get(serving + "/index.json").status_code == 401  # members only
