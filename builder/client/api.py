"""The proxy's ``/api/v1`` with the member's bearer token, refreshed when about to expire."""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from builder.client.credentials import TIMEOUT, Credentials, NotSignedIn, credentials_path, normalize_server
from builder.client.signin import discover, json_body
from builder.errors import BadInput, NotFound, UpstreamError


class Api:
    """``/api/v1`` with the stored bearer token, refreshed (and re-saved) when it has expired."""

    def __init__(self, creds: Credentials, path: Path, http: httpx.Client) -> None:
        self.creds = creds
        self.path = path
        self.http = http

    def _refresh(self) -> None:
        if not self.creds.refresh_token:
            raise NotSignedIn(f"your sign-in to {self.creds.server} expired: run `skillport login`")
        endpoints = discover(self.http, self.creds.server)
        r = self.http.post(
            endpoints["token"],
            data={
                "grant_type": "refresh_token",
                "client_id": self.creds.client_id,
                "refresh_token": self.creds.refresh_token,
            },
        )
        body = json_body(r, "token refresh")
        if r.status_code >= 400 or "access_token" not in body:
            raise NotSignedIn(f"your sign-in to {self.creds.server} expired: run `skillport login`")
        self.creds = Credentials(
            self.creds.server,
            self.creds.client_id,
            str(body["access_token"]),
            str(body.get("refresh_token") or self.creds.refresh_token),
            time.time() + float(body.get("expires_in") or 3600),
        )
        self.creds.save(self.path)

    def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        if self.creds.expires_at and self.creds.expires_at < time.time() + 30:
            self._refresh()
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self.creds.access_token}", "Accept": "application/json"}
            try:
                r = self.http.request(method, self.creds.server + "/api/v1" + path, headers=headers, **kwargs)
            except httpx.HTTPError as exc:
                raise UpstreamError(f"could not reach {self.creds.server}: {exc}") from exc
            if r.status_code == 401 and attempt == 1:
                self._refresh()
                continue
            body = json_body(r, f"{method} {path}")
            if r.status_code == 401:
                raise NotSignedIn(f"{self.creds.server} refused your sign-in: run `skillport login`")
            if r.status_code >= 500:
                raise UpstreamError(str(body.get("message") or f"server error {r.status_code}"))
            if r.status_code == 404:
                raise NotFound(str(body.get("message") or "not found"))
            if r.status_code >= 400:
                raise BadInput(str(body.get("message") or f"request refused ({r.status_code})"))
            return body
        raise NotSignedIn("run `skillport login`")  # pragma: no cover - loop always returns or raises

    def get_bytes(self, url: str) -> bytes:
        """A file the proxy serves (index, zip), with the bearer token; refreshed once on 401."""
        if urlsplit(url).netloc != urlsplit(self.creds.server).netloc:
            raise BadInput(f"{url} is not on {self.creds.server}, the server you signed in to")
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self.creds.access_token}"}
            try:
                r = self.http.get(url, headers=headers)
            except httpx.HTTPError as exc:
                raise UpstreamError(f"could not reach {self.creds.server}: {exc}") from exc
            if r.status_code == 401 and attempt == 1:
                self._refresh()
                continue
            if r.status_code == 401:
                raise NotSignedIn(f"{self.creds.server} refused your sign-in: run `skillport login`")
            if r.status_code != 200:
                raise UpstreamError(f"GET {url}: HTTP {r.status_code}")
            return r.content
        raise NotSignedIn("run `skillport login`")  # pragma: no cover - loop always returns or raises


@contextlib.contextmanager
def api_for(args: argparse.Namespace) -> Iterator[Api]:
    path = credentials_path()
    creds = Credentials.load(path)
    if creds is None:
        raise NotSignedIn("not signed in: run `skillport login --server https://skills.your-org.example/`")
    if args.server and normalize_server(args.server) != creds.server:
        raise NotSignedIn(f"signed in to {creds.server}, not {args.server}: run `skillport login --server`")
    with httpx.Client(timeout=TIMEOUT) as http:
        yield Api(creds, path, http)
