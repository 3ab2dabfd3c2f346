"""Serving the site: traversal, symlinks, ranges, bodies, cookies, CSRF, signed links, zip checks."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from builder.signing import Purpose, serializer
from proxy.session import Member, Sessions
from tests.support.servers import (
    SECRET,
    SECRET_2,
    FakeIdP,
    RunningProxy,
    fake_idp,
    login_with_fake,
    run_proxy,
    write_site,
)

ALICE = Member("u-alice", "alice@corp.example")
BOB = Member("u-bob", "bob@corp.example")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("serving")
    write_site(root / "site")
    (root / "outside.txt").write_text("TOP SECRET outside the site root")
    os.symlink(root / "outside.txt", root / "site" / "assets" / "leak.txt")
    os.symlink(root, root / "site" / "assets" / "up")
    return root / "site"


@pytest.fixture(scope="module")
def idp() -> Iterator[FakeIdP]:
    with fake_idp() as provider:
        yield provider


@pytest.fixture(scope="module")
def proxy(idp: FakeIdP, site: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProxy]:
    with run_proxy(
        site,
        idp.issuer,
        tmp_path_factory.mktemp("p"),
        secret_keys=f"{SECRET},{SECRET_2}",
        max_body_bytes="4096",
    ) as running:
        yield running


@pytest.fixture
def alice(idp: FakeIdP, proxy: RunningProxy) -> Iterator[httpx.Client]:
    idp.override = {}
    with httpx.Client() as client:
        assert login_with_fake(client, proxy.url).status_code == 302
        yield client


def raw_get(url: str, target: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """Send a request line exactly as given (no client-side normalization)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}Connection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data


def session_cookie(client: httpx.Client) -> str:
    return next(c.value for c in client.cookies.jar if c.name == "skillport")


@pytest.mark.threat("T22")
@pytest.mark.parametrize(
    "target",
    [
        "/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/assets/..%2f..%2foutside.txt",
        "/assets/%5c..%5c..%5coutside.txt",
        "//etc/passwd",
        "/assets/app.js%00.html",
        "/" + "a" * 5000,
        "/skills/../../outside.txt",
        "/C:/Windows/win.ini",
    ],
)
def test_t22_path_traversal_is_404(alice: httpx.Client, proxy: RunningProxy, target: str) -> None:
    cookie = session_cookie(alice)
    status, body = raw_get(proxy.url, target, {"Cookie": f"skillport={cookie}"})
    assert status in (400, 404)
    assert b"TOP SECRET" not in body and b"root:" not in body


def script(site: Path) -> str:
    """The theme's JavaScript bundle the builder wrote (a file of the real site, served to members)."""
    return next((site / "assets" / "javascripts").glob("bundle.*.min.js")).relative_to(site).as_posix()


@pytest.mark.threat("T23")
def test_t23_symlinks_out_of_the_root_are_not_served(
    alice: httpx.Client, proxy: RunningProxy, site: Path
) -> None:
    assert alice.get(proxy.url + script(site)).status_code == 200
    for path in ("assets/leak.txt", "assets/up/outside.txt"):
        r = alice.get(proxy.url + path)
        assert r.status_code == 404 and "TOP SECRET" not in r.text


@pytest.mark.threat("T24")
def test_t24_ranges_are_bounded(alice: httpx.Client, proxy: RunningProxy, site: Path) -> None:
    ok = alice.get(proxy.url + script(site), headers={"Range": "bytes=0-9"})
    assert ok.status_code == 206 and ok.content == (site / script(site)).read_bytes()[:10]
    for bad in (
        "bytes=0-1,2-3",
        "bytes=" + ",".join(["0-1"] * 500),
        "bytes=99999999-",
        "bytes=5-2",
        "items=0-1",
        "bytes=-",
    ):
        assert alice.get(proxy.url + script(site), headers={"Range": bad}).status_code == 416, bad
    assert alice.get(proxy.url + "healthz").status_code == 200


@pytest.mark.threat("T24")
def test_t24_oversized_bodies_are_413(alice: httpx.Client, proxy: RunningProxy) -> None:
    same = {"Origin": proxy.url.rstrip("/")}
    assert alice.post(proxy.url + "logout", content=b"x" * 10_000, headers=same).status_code == 413

    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b"y" * 1000

    streamed = alice.post(
        proxy.url + "token", content=chunks(), headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert streamed.status_code == 413


@pytest.mark.threat("T13")
def test_t13_tampered_truncated_or_wrong_key_cookie_is_signed_out(
    alice: httpx.Client, proxy: RunningProxy
) -> None:
    good = session_cookie(alice)
    wrong_key = Sessions(["w" * 40], lifetime=3600, https=False).encode(ALICE, now=datetime.now(UTC))
    wrong_purpose = serializer([SECRET], Purpose.DOWNLOAD_LINK).dumps(
        {"u": "u-alice", "e": "alice@corp.example", "t": int(datetime.now(UTC).timestamp())}
    )
    for value in (
        good[:-3] + "AAA",
        good[: len(good) // 2],
        wrong_key,
        str(wrong_purpose),
        "",
        "x" * 5000,
        good.replace(".", "!", 1),
    ):
        r = httpx.get(proxy.url + "index.json", cookies={"skillport": value})
        assert r.status_code == 401, value  # signed out (a browser would be sent to sign in)


@pytest.mark.threat("T14")
def test_t14_cookie_attributes_over_https(idp: FakeIdP, site: Path, tmp_path: Path) -> None:
    from tests.support.servers import free_socket

    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    with run_proxy(site, idp.issuer, tmp_path, public_url=f"https://127.0.0.1:{port}/") as proxy:
        start = httpx.get(proxy.url + "login")
        state_cookie = start.headers["set-cookie"]
        assert state_cookie.startswith("__Host-skillport-signin=")
        back = httpx.get(start.headers["location"]).headers["location"]
        assert back.startswith(f"https://127.0.0.1:{port}/auth/callback")
        callback = proxy.url + back.split(f":{port}/", 1)[1]
        done = httpx.get(callback, headers={"Cookie": state_cookie.split(";", 1)[0]})
        assert done.status_code == 302
        session = next(v for v in done.headers.get_list("set-cookie") if v.startswith("__Host-skillport="))
        attrs = [a.strip().lower() for a in session.split(";")[1:]]
        assert "secure" in attrs and "httponly" in attrs and "path=/" in attrs and "samesite=lax" in attrs
        assert not any(a.startswith("domain") for a in attrs)
        assert "strict-transport-security" in done.headers


@pytest.mark.threat("T15")
def test_t15_key_rotation(proxy: RunningProxy) -> None:
    now = datetime.now(UTC)
    old = Sessions([SECRET], lifetime=3600, https=False).encode(ALICE, now=now)
    assert httpx.get(proxy.url + "index.json", cookies={"skillport": old}).status_code == 200
    fresh = proxy.app.state.skillport.sessions.encode(ALICE, now=now)
    assert Sessions([SECRET_2], lifetime=3600, https=False).decode(fresh, now=now) == ALICE
    assert Sessions([SECRET_2], lifetime=3600, https=False).decode(old, now=now) is None


@pytest.mark.threat("T16")
def test_t16_cross_site_unsafe_requests_are_rejected(alice: httpx.Client, proxy: RunningProxy) -> None:
    for headers in (
        {"Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site", "Origin": "https://sub.corp.example"},
    ):
        assert alice.post(proxy.url + "logout", headers=headers).status_code == 403
    assert alice.get(proxy.url + "index.json").status_code == 200  # still signed in


@pytest.mark.threat("T32")
def test_t32_signed_links(alice: httpx.Client, proxy: RunningProxy) -> None:
    links = proxy.app.state.skillport.links
    now = datetime.now(UTC)
    good = links.mint(ALICE, "pdf-writer", "1.0.0", now=now)
    assert httpx.get(good).status_code == 200
    expired = links.mint(ALICE, "pdf-writer", "1.0.0", now=now - timedelta(seconds=links.lifetime + 5))
    future = links.mint(ALICE, "pdf-writer", "1.0.0", now=now + timedelta(hours=1))
    token = good.rsplit("/", 1)[1]
    altered = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    other_purpose = proxy.url + "d/" + proxy.app.state.skillport.sessions.encode(ALICE, now=now)
    for url in (expired, future, altered, other_purpose, proxy.url + "d/" + token[::-1]):
        assert httpx.get(url).status_code == 403, url
    bobs = links.mint(BOB, "pdf-writer", "1.0.0", now=now)
    assert alice.get(bobs).status_code == 403  # minted for another user
    wrong_version = links.mint(ALICE, "pdf-writer", "0.9.0", now=now)
    assert httpx.get(wrong_version).status_code == 404
    unreadable = links.mint(ALICE, "ledger", "2.1.0", now=now)
    assert httpx.get(unreadable).status_code == 404


@pytest.mark.threat("T31")
def test_t31_zip_that_differs_from_the_index_is_not_served(
    alice: httpx.Client, proxy: RunningProxy, site: Path
) -> None:
    path = site / "plugins" / "writing-1.0.0.zip"
    original = path.read_bytes()
    try:
        path.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
        assert alice.get(proxy.url + "plugins/writing-1.0.0.zip").status_code == 503
        path.write_bytes(original + b"extra")
        assert alice.get(proxy.url + "plugins/writing-1.0.0.zip").status_code == 503
    finally:
        path.write_bytes(original)
    assert alice.get(proxy.url + "plugins/writing-1.0.0.zip").status_code == 200


@pytest.mark.threat("T26")
def test_t26_guessed_urls_for_unlisted_zips_are_404(
    alice: httpx.Client, proxy: RunningProxy, site: Path
) -> None:
    (site / "skills" / "pdf-writer" / "pdf-writer-0.1.0.zip").write_bytes(b"PK old")
    assert alice.get(proxy.url + "skills/pdf-writer/pdf-writer-0.1.0.zip").status_code == 404
    assert alice.get(proxy.url + "skills/ledger/ledger-2.1.0.zip").status_code == 404


def test_security_headers_on_every_response(alice: httpx.Client, proxy: RunningProxy) -> None:
    page = alice.get(proxy.url)
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "same-origin"  # no Referer to other sites
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"].startswith("private")
