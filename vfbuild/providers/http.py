"""The one HTTP client every remote provider uses (httpx).

- GETs (status polls, results, downloads) are retried with exponential backoff and full jitter
  on 408/409/429/5xx and on transport errors, honouring `Retry-After`.
- A POST that creates a paid job is retried only when the server plainly did not take it
  (connection refused, 429, 503). When the reply is lost after the request went out (a timeout,
  a dropped connection, a 500/502/504), `SubmitUnknown` is raised: the job journal then decides
  (find the job at the provider, or stop and ask), so a job is never paid for twice blindly.
- A 422 is the provider refusing the input itself (a validation error, a recognisable face):
  `InputRefused`, never retried, since the same request would be refused again.
- Downloads stream to a file in 1 MiB chunks (never the whole file in memory), check the size
  against Content-Length, and never send the provider's credentials to another host (a CDN).
- Error messages never carry a secret: every text that leaves this module goes through
  `redact()`, which knows every credential the providers read from the environment.
"""

from __future__ import annotations

import email.utils
import functools
import json
import logging
import os
import random
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from vfbuild.errors import HttpStatusError, InputRefused, ProviderError, SubmitUnknown

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("vfbuild.http")

RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
# The input itself was refused (RFC 9110 §15.5.21: understood, but it cannot be processed):
# fal's and Replicate's validation errors, Seedance's recognisable face. Never retried.
REFUSED_INPUT_STATUSES = frozenset({422})
# A create-POST answered with these was refused, not taken: safe to send again.
NOT_TAKEN_STATUSES = frozenset({429, 503})
CHUNK = 1 << 20

_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def add_secret(value: str | None) -> None:
    """Remember a credential so `redact()` hides it (and anything derived, e.g. a JWT)."""
    if value and len(value) >= 4:
        with _secrets_lock:
            _secrets.add(value)


def redact(text: str) -> str:
    for s in sorted(_secrets, key=len, reverse=True):
        text = text.replace(s, "***")
    return text


def env_secret(name: str) -> str:
    value = os.environ.get(name, "")
    add_secret(value)
    return value


def retry_after(resp: httpx.Response) -> float | None:
    value = resp.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def body_of(resp: httpx.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return resp.text[:500]


class Http:
    """An httpx client for one provider: its base URL, auth headers, timeouts and retries."""

    def __init__(
        self,
        provider: str,
        base_url: str,
        headers: dict[str, str] | Callable[[], dict[str, str]] | None = None,
        *,
        timeout: float = 60.0,
        retries: int = 6,
        backoff: float = 0.25,
        max_backoff: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self._headers = headers
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._timeout = timeout
        self._transport = transport
        self._clients_lock = threading.Lock()

    # Clients are made on first use: a build that sends nothing (a no-op) pays neither for
    # importing httpx nor for loading the CA bundle (about 0.1 s each).
    @functools.cached_property
    def client(self) -> httpx.Client:
        return self._make_client(follow_redirects=False)

    @functools.cached_property
    def fresh(self) -> httpx.Client:
        """For the POST that creates a paid job: a new connection each time. A kept-alive
        connection the server has just closed would lose the request in a way that looks like
        a lost reply, and a lost reply can mean paying twice."""
        return self._make_client(follow_redirects=False, keepalive=False)

    @functools.cached_property
    def bare(self) -> httpx.Client:
        """For downloads from another host (a CDN, a signed URL): no credentials."""
        return self._make_client(follow_redirects=True)

    def _make_client(self, *, follow_redirects: bool, keepalive: bool = True) -> httpx.Client:
        lib = _httpx()
        with self._clients_lock:
            client: httpx.Client = lib.Client(
                timeout=lib.Timeout(self._timeout, connect=min(self._timeout, 15.0)),
                transport=self._transport,
                limits=lib.Limits(
                    max_connections=64, max_keepalive_connections=32 if keepalive else 0
                ),
                follow_redirects=follow_redirects,
                verify=ssl_context(),
            )
            return client

    def close(self) -> None:
        for name in ("client", "fresh", "bare"):
            if name in self.__dict__:
                self.__dict__[name].close()

    # -- plumbing ---------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.base_url + path

    def _own(self, url: str) -> bool:
        """Same origin as the API (scheme, host, port): only there do credentials go."""
        a, b = urlsplit(url), urlsplit(self.base_url)
        return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)

    def headers(self) -> dict[str, str]:
        h = self._headers() if callable(self._headers) else dict(self._headers or {})
        return h

    def _sleep(self, attempt: int, resp: httpx.Response | None) -> None:
        wait = retry_after(resp) if resp is not None else None
        if wait is None:
            wait = random.uniform(0, min(self.max_backoff, self.backoff * 2**attempt))
        time.sleep(min(wait, self.max_backoff))

    def wait(self, attempt: int) -> None:
        """The backoff the retries here use, before try `attempt + 2` of work that goes wrong
        above HTTP (a body that is not usable media): a CDN still writing the file, or
        failing, gets time, not six fetches back to back."""
        self._sleep(attempt, None)

    def _fail(self, what: str, resp: httpx.Response) -> HttpStatusError:
        body = body_of(resp)
        cls = InputRefused if resp.status_code in REFUSED_INPUT_STATUSES else HttpStatusError
        return cls(
            redact(f"{self.provider}: {what} failed: HTTP {resp.status_code}: {_short(body)}"),
            status=resp.status_code,
            body=body,
        )

    # -- requests ---------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        creates: bool = False,
        ok: Iterable[int] = (200, 201, 202),
        **kw: Any,
    ) -> httpx.Response:
        """Send a request with retries. `creates=True` marks a POST that starts a paid job."""
        httpx = _httpx()

        url = self.url(path)
        headers = {**(self.headers() if self._own(url) else {}), **kw.pop("headers", {})}
        ok = set(ok)
        last: str = ""
        for attempt in range(self.retries + 1):
            resp = None
            try:
                client = self.fresh if creates else self.client
                resp = client.request(method, url, headers=headers, **kw)
            except httpx.ConnectError as e:
                last = f"cannot connect to {urlsplit(url).hostname}: {e}"
            except httpx.TransportError as e:
                if creates:
                    raise SubmitUnknown(
                        redact(f"{self.provider}: {what}: the reply was lost ({_kind(e)})")
                    ) from None
                last = f"{_kind(e)}"
            if resp is not None:
                if resp.status_code in ok:
                    return resp
                if resp.status_code not in RETRY_STATUSES:
                    raise self._fail(what, resp)
                if creates and resp.status_code not in NOT_TAKEN_STATUSES:
                    raise SubmitUnknown(
                        redact(
                            f"{self.provider}: {what}: HTTP {resp.status_code} after the request "
                            "was sent; the job may or may not exist"
                        )
                    )
                last = f"HTTP {resp.status_code}: {_short(body_of(resp))}"
                if attempt == self.retries:
                    raise self._fail(what, resp)
            if attempt < self.retries:
                log.debug("%s: %s: %s; retry %d", self.provider, what, redact(last), attempt + 1)
                self._sleep(attempt, resp)
        raise ProviderError(
            redact(f"{self.provider}: {what} failed after {self.retries + 1} tries: {last}"),
            hint="check the network and the provider's status page, then build again",
        )

    def get_json(self, path: str, *, what: str, **kw: Any) -> Any:
        return self.request("GET", path, what=what, **kw).json()

    def events(self, path: str, *, what: str) -> Iterator[Any]:
        """The JSON of each event a server-sent event stream at `path` sends, as it comes.

        One GET, no retries: a caller that streams a job's status falls back to polling when
        the stream fails (ProviderError), so a stream is never the only way to learn a result.
        """
        httpx = _httpx()

        url = self.url(path)
        headers = {**self.headers(), "Accept": "text/event-stream", "Cache-Control": "no-cache"}
        try:
            with self.client.stream("GET", url, headers=headers) as resp:
                if resp.status_code != 200:
                    resp.read()
                    raise self._fail(what, resp)
                data: list[str] = []
                for line in resp.iter_lines():
                    # The SSE format: `data:` fields gather until a blank line ends the event;
                    # lines starting with ':' are comments (keep-alives); other fields
                    # (event, id, retry) say nothing a status stream needs.
                    if not line:
                        if data:
                            yield json.loads("\n".join(data))
                        data = []
                    elif line.startswith("data:"):
                        value = line[5:]
                        data.append(value[1:] if value.startswith(" ") else value)
        except httpx.TransportError as e:
            raise ProviderError(redact(f"{self.provider}: {what}: {_kind(e)}")) from None
        except ValueError as e:  # a data field that is not JSON
            raise ProviderError(redact(f"{self.provider}: {what}: bad event: {e}")) from None

    def download(
        self,
        url: str,
        dest: Path,
        *,
        what: str,
        progress: Callable[[int, int | None], None] | None = None,
    ) -> int:
        """Stream `url` to `dest`; retry on transport errors, 5xx and short bodies."""
        httpx = _httpx()

        full = self.url(url)
        client = self.client if self._own(full) else self.bare
        headers = self.headers() if self._own(full) else {}
        last = ""
        for attempt in range(self.retries + 1):
            resp = None
            try:
                with client.stream("GET", full, headers=headers) as resp:
                    if resp.status_code != 200:
                        if resp.status_code not in RETRY_STATUSES:
                            resp.read()
                            raise self._fail(what, resp)
                        last = f"HTTP {resp.status_code}"
                    else:
                        expected = _int(resp.headers.get("content-length"))
                        got = 0
                        with open(dest, "wb") as f:
                            for chunk in resp.iter_bytes(CHUNK):
                                f.write(chunk)
                                got += len(chunk)
                                if progress:
                                    progress(got, expected)
                        raw = resp.num_bytes_downloaded
                        if expected is None or raw == expected:
                            return got
                        last = f"got {raw} of {expected} bytes"
            except httpx.TransportError as e:
                last = _kind(e)
            if attempt < self.retries:
                log.debug("%s: %s: %s; retry %d", self.provider, what, redact(last), attempt + 1)
                self._sleep(attempt, resp if resp is not None and resp.status_code != 200 else None)
        raise ProviderError(
            redact(f"{self.provider}: {what} failed after {self.retries + 1} tries: {last}"),
            hint="the result may have expired at the provider; build again to retry",
        )


_import_lock = threading.Lock()
# Modules httpx and httpcore import when installed, for what vfbuild never runs: async
# backends (trio, anyio) and httpx's command line (click, then pygments and rich). Hidden while
# httpx is first imported: httpx and httpcore then take 55 ms instead of 123 ms here.
_NOT_NEEDED = ("trio", "anyio", "click")


_imported: list[ModuleType] = []  # httpx, once it and httpcore are fully imported


def _httpx() -> ModuleType:
    """httpx, imported (the first time) without the modules in `_NOT_NEEDED`. httpcore too:
    httpx imports it only when its first client is made."""
    if _imported:
        return _imported[0]
    with _import_lock:
        if _imported:
            return _imported[0]
        hidden = [n for n in _NOT_NEEDED if n not in sys.modules]
        for n in hidden:
            sys.modules[n] = None  # type: ignore[assignment]  # `import n` raises ImportError
        try:
            import httpcore  # noqa: F401
            import httpx
        finally:
            for n in hidden:
                if n in sys.modules and sys.modules[n] is None:
                    del sys.modules[n]
        _imported.append(httpx)
    return httpx


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


_tls_lock = threading.Lock()
_tls: list[Any] = []


def ssl_context() -> Any:
    """One CA bundle load per process, shared by every client (and made once even when a
    warm-up thread and a first request ask together)."""
    with _tls_lock:
        if not _tls:
            import ssl

            import certifi

            _tls.append(ssl.create_default_context(cafile=certifi.where()))
        return _tls[0]


def _kind(e: Exception) -> str:
    httpx = _httpx()

    names = {
        httpx.ReadTimeout: "no reply in time",
        httpx.WriteTimeout: "could not send in time",
        httpx.ConnectTimeout: "connect timed out",
        httpx.PoolTimeout: "connection pool exhausted",
        httpx.RemoteProtocolError: "the connection was dropped",
        httpx.ReadError: "the connection was dropped",
    }
    return names.get(type(e), type(e).__name__)


def _short(body: Any) -> str:
    text = body if isinstance(body, str) else repr(body)
    return text if len(text) <= 300 else text[:300] + "…"
