"""The verified index: tampering, wrong purpose, rollback, expiry, origin down or serving garbage
(T27–T30), for a local directory and an HTTP origin, and what /readyz reports."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.staticfiles import StaticFiles

from builder.index import encode
from builder.signing import Purpose, serializer, signer
from proxy.origin import HttpOrigin, IndexStore, LocalOrigin
from tests.support.servers import SIGNING, publish_index, run_proxy, serve, write_site

NOW = datetime(2026, 11, 29, 14, 0, tzinfo=UTC)


def store_for(root: Path, expiry: str = "refuse") -> IndexStore:
    return IndexStore(LocalOrigin(root, 10_000_000), [SIGNING], refresh_seconds=30, expiry=expiry)


def refresh(store: IndexStore, now: datetime = NOW) -> None:
    asyncio.run(store.refresh(now=now, force=True))


@pytest.fixture
def site(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    doc = write_site(tmp_path / "site", serial=100, now=NOW)
    return tmp_path / "site", doc


def test_a_good_index_is_trusted(site: tuple[Path, dict[str, Any]]) -> None:
    store = store_for(site[0])
    refresh(store)
    assert store.current() is not None and store.serial == 100 and store.problem is None


@pytest.mark.threat("T27")
def test_t27_one_byte_changed_or_signature_missing_or_swapped_keeps_last_good(
    site: tuple[Path, dict[str, Any]],
) -> None:
    root, doc = site
    store = store_for(root)
    refresh(store)
    good = (root / "index.json").read_bytes()
    sig = (root / "index.json.sig").read_bytes()
    (root / "index.json").write_bytes(good.replace(b'"serial": 100', b'"serial": 101'))
    refresh(store)
    assert store.serial == 100 and "IndexBadSignature" in (store.problem or "")
    (root / "index.json").write_bytes(good)
    (root / "index.json.sig").unlink()
    refresh(store)
    assert store.serial == 100 and store.current() is not None and store.problem
    other = dict(doc, serial=150)
    publish_index(root, other)
    (root / "index.json.sig").write_bytes(sig)  # a real signature, of another document
    refresh(store)
    assert store.serial == 100


@pytest.mark.threat("T28")
def test_t28_signature_for_another_purpose_is_rejected(site: tuple[Path, dict[str, Any]]) -> None:
    root, doc = site
    store = store_for(root)
    data = encode(dict(doc, serial=200))
    (root / "index.json").write_bytes(data)
    (root / "index.json.sig").write_bytes(signer([SIGNING], Purpose.SESSION).get_signature(data))
    refresh(store)
    assert store.current() is None and "IndexWrongPurpose" in (store.problem or "")
    # and a session serializer never accepts an index signature as a cookie
    token = data.decode() + "." + signer([SIGNING], Purpose.INDEX).get_signature(data).decode()
    with pytest.raises(Exception):  # noqa: B017 - any itsdangerous BadData
        serializer([SIGNING], Purpose.SESSION).loads(token)


@pytest.mark.threat("T29")
def test_t29_rollback_to_a_lower_serial_is_refused(site: tuple[Path, dict[str, Any]]) -> None:
    root, doc = site
    store = store_for(root)
    publish_index(root, dict(doc, serial=300))
    refresh(store)
    assert store.serial == 300
    publish_index(root, dict(doc, serial=299))
    refresh(store)
    assert store.serial == 300 and "IndexRollback" in (store.problem or "")
    assert store.current() is not None and store.current().serial == 300


@pytest.mark.threat("T29")
def test_t29_a_restarted_proxy_refuses_an_older_signed_index(tmp_path: Path) -> None:
    """Whoever controls the origin swaps in an older (validly signed) index while the proxy restarts."""
    site_dir, state = tmp_path / "site", tmp_path / "state"
    doc = write_site(site_dir, serial=300)
    with run_proxy(site_dir, "http://127.0.0.1:9", tmp_path, state_dir=str(state)) as proxy:
        assert httpx.get(proxy.url + "readyz").json() == {"status": "ready", "serial": 300}
    assert (state / "index-serial.json").exists()
    publish_index(site_dir, dict(doc, serial=299))
    with run_proxy(site_dir, "http://127.0.0.1:9", tmp_path, state_dir=str(state)) as proxy:
        r = httpx.get(proxy.url + "readyz")
        assert r.status_code == 503 and "IndexRollback" in r.json()["reason"]
    # without a state folder the administrator's floor does the same
    with run_proxy(site_dir, "http://127.0.0.1:9", tmp_path, index_serial_floor="300") as proxy:
        r = httpx.get(proxy.url + "readyz")
        assert r.status_code == 503 and "older than the trusted serial 300" in r.json()["reason"]
    publish_index(site_dir, dict(doc, serial=301))  # a newer index is accepted and remembered
    with run_proxy(site_dir, "http://127.0.0.1:9", tmp_path, state_dir=str(state)) as proxy:
        assert httpx.get(proxy.url + "readyz").json()["serial"] == 301
    assert '"serial": 301' in (state / "index-serial.json").read_text()


def test_a_corrupt_serial_record_is_a_clear_start_up_error(tmp_path: Path) -> None:
    from builder.errors import BadInput

    (tmp_path / "index-serial.json").write_text("{not json")
    with pytest.raises(BadInput, match=r"index-serial\.json.*fix or delete the file"):
        IndexStore(
            LocalOrigin(tmp_path, 1000),
            [SIGNING],
            refresh_seconds=30,
            serial_file=tmp_path / "index-serial.json",
        )


@pytest.mark.threat("T30")
def test_t30_expired_index_is_refused_or_warned(site: tuple[Path, dict[str, Any]]) -> None:
    root, _ = site
    later = NOW + timedelta(days=31)
    refusing = store_for(root)
    refresh(refusing, later)
    assert refusing.current() is None and "IndexExpired" in (refusing.problem or "")
    held = store_for(root)
    refresh(held, NOW)
    refresh(held, later)  # the last good index expires while held
    assert held.current() is None
    warning = store_for(root, expiry="warn")
    refresh(warning, later)
    assert warning.current() is not None and "expired" in (warning.problem or "")


@pytest.fixture
def http_origin(site: tuple[Path, dict[str, Any]]) -> Iterator[tuple[str, Path]]:
    app = Starlette()
    app.mount("/", StaticFiles(directory=site[0]))
    with serve(app) as url:
        yield url, site[0]


@pytest.mark.threat("T27")
def test_t27_http_origin_down_or_garbage_keeps_last_good(http_origin: tuple[str, Path]) -> None:
    url, root = http_origin

    async def scenario() -> None:
        origin = HttpOrigin(url, {}, timeout=2, max_bytes=1_000_000)
        store = IndexStore(origin, [SIGNING], refresh_seconds=30)
        await store.refresh(now=NOW, force=True)
        assert store.serial == 100
        (root / "index.json").write_bytes(b"<html>maintenance</html>")
        await store.refresh(now=NOW, force=True)
        assert store.serial == 100 and store.current() is not None
        await origin.aclose()
        dead = HttpOrigin("http://127.0.0.1:9/", {}, timeout=1, max_bytes=1_000_000)
        dead_store = IndexStore(dead, [SIGNING], refresh_seconds=30)
        await dead_store.refresh(now=NOW, force=True)
        assert dead_store.current() is None and "unreachable" in (dead_store.problem or "")
        await dead.aclose()

    asyncio.run(scenario())


def test_refresh_is_rate_limited(site: tuple[Path, dict[str, Any]]) -> None:
    root, doc = site
    store = store_for(root)
    asyncio.run(store.refresh(now=NOW))
    publish_index(root, dict(doc, serial=500))
    asyncio.run(store.refresh(now=NOW + timedelta(seconds=5)))
    assert store.serial == 100
    asyncio.run(store.refresh(now=NOW + timedelta(seconds=31)))
    assert store.serial == 500


@pytest.mark.threat("T27")
def test_t27_readyz_unavailable_without_a_valid_index(tmp_path: Path) -> None:
    root = tmp_path / "site"
    write_site(root)
    (root / "index.json").write_bytes(b"{}")
    with run_proxy(root, "http://127.0.0.1:9", tmp_path) as proxy:
        ready = httpx.get(proxy.url + "readyz")
        assert ready.status_code == 503 and ready.json()["status"] == "unavailable"
        assert "signature" in ready.json()["reason"]
        assert httpx.get(proxy.url + "healthz").status_code == 200


@pytest.mark.threat("T24")
def test_t24_local_origin_reads_large_files_whole_and_refuses_oversized_ones(tmp_path: Path) -> None:
    big = bytes(range(256)) * 4096  # 1 MiB: read off the event loop
    (tmp_path / "big.zip").write_bytes(big)
    (tmp_path / "small.zip").write_bytes(b"small")
    origin = LocalOrigin(tmp_path, max_bytes=len(big))
    assert asyncio.run(origin.read("big.zip")) == big
    assert asyncio.run(origin.read("small.zip")) == b"small"
    (tmp_path / "huge.zip").write_bytes(big + b"!")
    assert asyncio.run(origin.read("huge.zip")) is None


@pytest.mark.threat("T22")
@pytest.mark.parametrize(
    ("field", "value"),
    [("path", "../../etc/passwd"), ("path", "/etc/passwd"), ("sha256", "not-a-digest"), ("size", -1)],
)
def test_t22_a_signed_index_naming_an_unsafe_zip_is_refused_and_the_last_good_kept(
    site: tuple[Path, dict[str, Any]], field: str, value: Any
) -> None:
    """The contract checks the index at the trust boundary: even a validly signed index whose zip
    record could send a download outside the site (or cannot be checked) is never trusted."""
    root, doc = site
    store = store_for(root)
    refresh(store)
    bad = json.loads(json.dumps(doc))
    bad["serial"] = 101
    bad["skills"][0]["zip"][field] = value
    publish_index(root, bad)
    refresh(store)
    assert store.serial == 100 and "IndexMalformed" in (store.problem or "")
    assert f"skills[0].zip.{field}" in (store.problem or "")
    current = store.current()
    assert current is not None and store.zip_entry(doc["skills"][0]["zip"]["path"]) is not None
