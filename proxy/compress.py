"""gzip for the catalog's text responses (issue 15).

``Site.page`` passes each catalog response through :func:`compressed` — after per-member filtering, so
what is compressed is exactly what the member may see. A response is gzip-encoded (level 6; level 1
from :data:`FAST_BYTES` up) when the client sends ``Accept-Encoding: gzip``, it is a whole ``200``
answer of a text type (HTML, JSON, CSS, JavaScript, XML, SVG) larger than :data:`MIN_BYTES`, and none
of these holds:

- it is an attachment (``Content-Disposition``: zips, skill files handed out as downloads) or a skill
  file served inert (``text/plain``, not in the list);
- it is a byte range (``206``), or already encoded;
- it says ``Cache-Control: no-store``: pages that may reflect a secret or a token (sign-in, consent,
  signed links) stay uncompressed, so the length of a compressed answer never tells an observer
  anything about a secret next to text an attacker chose (BREACH).

Every text response of this kind says ``Vary: Accept-Encoding``, compressed or not. A compressed
response drops ``Accept-Ranges`` (ranges are served on the identity encoding only). Bodies of
:data:`THREAD_BYTES` or more are compressed in a worker thread, and the last few large results are
kept by the proxy (``GzipCache``, keyed by a digest of the body): members with the same access get
the same filtered ``search/search_index.json``, compressed once.
"""

from __future__ import annotations

import gzip
import hashlib
import threading

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response

from proxy.views import ViewCache

MIN_BYTES = 1024
THREAD_BYTES = 64 * 1024
LEVEL = 6
FAST_BYTES = 1024 * 1024
COMPRESSIBLE = frozenset(
    {
        "text/html",
        "text/css",
        "text/javascript",
        "application/javascript",
        "application/json",
        "application/xml",
        "text/xml",
        "image/svg+xml",
        "application/manifest+json",
    }
)


def accepts_gzip(request: Request) -> bool:
    """Whether ``Accept-Encoding`` lists gzip (or ``*``) with a non-zero quality."""
    for token in request.headers.get("accept-encoding", "").split(","):
        name, _, params = token.partition(";")
        if name.strip().lower() not in ("gzip", "x-gzip", "*"):
            continue
        quality = params.strip().lower()
        if quality.startswith("q="):
            try:
                return float(quality[2:]) > 0
            except ValueError:
                return False
        return True
    return False


def _gzip(body: bytes) -> bytes:
    # mtime=0: the same body always gives the same bytes. A body of FAST_BYTES or more (a 10,000-skill
    # index.json is 16 MB) gets the fastest level: level 6 would cost ~130 ms of a core per request
    level = LEVEL if len(body) < FAST_BYTES else 1
    return gzip.compress(body, compresslevel=level, mtime=0)


class GzipCache:
    """Compressed copies of recent large bodies, keyed by a digest of the body (one per proxy app): a
    ``ViewCache`` of at most ``entries`` copies and ``max_bytes``; a copy over a quarter of that is not
    kept. Bodies are compressed in worker threads, hence the lock."""

    def __init__(self, max_bytes: int, entries: int) -> None:
        self._found = ViewCache(entries, max_bytes)
        self._lock = threading.Lock()

    @property
    def held_bytes(self) -> int:
        return self._found.bytes

    def gzip(self, body: bytes) -> bytes:
        key = hashlib.blake2b(body, digest_size=20).digest()
        with self._lock:
            found = self._found.get(key)
        if isinstance(found, bytes):
            return found
        data = _gzip(body)
        with self._lock:
            self._found.put(key, data)
        return data


def _add_vary(response: Response) -> None:
    vary = response.headers.get("vary", "")
    names = [v.strip().lower() for v in vary.split(",") if v.strip()]
    if "accept-encoding" not in names:
        response.headers["Vary"] = f"{vary}, Accept-Encoding" if vary else "Accept-Encoding"


async def compressed(request: Request, response: Response, cache: GzipCache | None = None) -> Response:
    """``response``, gzip-encoded when the rules above allow it (changed in place)."""
    media_type = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type not in COMPRESSIBLE or "content-disposition" in response.headers:
        return response
    body = getattr(response, "body", None)
    if not isinstance(body, bytes):  # a streamed response: left as it is
        return response
    _add_vary(response)
    if (
        response.status_code != 200
        or "content-encoding" in response.headers
        or "no-store" in response.headers.get("cache-control", "").lower()
        or len(body) <= MIN_BYTES
        or not accepts_gzip(request)
    ):
        return response
    if len(body) >= THREAD_BYTES:
        data = await anyio.to_thread.run_sync(cache.gzip if cache else _gzip, body)
    else:
        data = _gzip(body)
    response.body = data
    response.headers["Content-Encoding"] = "gzip"
    response.headers["Content-Length"] = str(len(data))
    if "accept-ranges" in response.headers:
        del response.headers["accept-ranges"]
    return response
