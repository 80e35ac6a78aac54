"""`vf review`: the contact sheet as a local web page, served on 127.0.0.1 only.

The standard library's ThreadingHTTPServer, no framework: the page (HTML, CSS and plain JS
from `vfbuild/review/assets/`), its data (`/api/sheet`: `Film.status()` and `Film.takes()`;
`/api/plan`: `Film.plan()`), thumbnails (`/thumb/<sha256>`), the film's layout files
(`/media/<path>`), and two writes: `POST /api/pick` (`Film.pick`, the call `vf pick` makes)
and `POST /api/build` (`Film.build` in a thread, under the film's build lock like `vf build`),
whose progress streams from `/api/events` as server-sent events.

Who may do what:
- it binds to 127.0.0.1, and answers only requests whose Host is its own address (a page of
  another site that points a name of its own at 127.0.0.1 gets nothing: DNS rebinding);
- a write carries the session's token (made when the server starts, given only inside the
  page, compared with `hmac.compare_digest`), JSON, and no Origin or Sec-Fetch-Site that says
  it came from another site: a page elsewhere can neither read the token nor forge a write;
- it serves only files of the film's layout folders, after resolving links: a path with
  `..`, a file outside those folders, or a link that leads elsewhere is a 404;
- the page shows what the library returns about the film, nothing from the environment.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import re
import secrets
import socket
import sys
import threading
import traceback
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeGuard
from urllib.parse import parse_qs, unquote, urlsplit

from vfbuild.errors import UsageError, VfError
from vfbuild.media.types import MEDIA_TYPES, OCTET_STREAM
from vfbuild.review import page
from vfbuild.review.thumbs import Thumbs
from vfbuild.store import layout, vfdir

HOST = "127.0.0.1"
# The folders of the versioned layout: the only files of the film the page may show.
MEDIA_FOLDERS = frozenset(
    {
        layout.SOURCE_IMAGES,
        layout.REFERENCE_VIDEO,
        "03_Generations",
        layout.AUDIO,
        layout.UPSCALED,
        layout.EDIT,
    }
)
MAX_BODY = 64 * 1024
EVENTS_KEPT = 5000
_HEX64 = re.compile(r"[0-9a-f]{64}")
_RANGE = re.compile(r"bytes=([0-9]*)-([0-9]*)$")


class BuildRunner:
    """One build at a time from the page, in a thread, heard as a numbered list of events."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cond = threading.Condition()
        self.events: list[dict[str, Any]] = []  # the last EVENTS_KEPT, each with its `seq`
        self.seq = 0
        self.running = False
        self.build = 0
        self.start_seq = 0  # the `start` event of the last build

    def _emit(self, kind: str, **data: Any) -> None:
        with self.cond:
            self.seq += 1
            self.events.append({"seq": self.seq, "type": kind, "build": self.build, **data})
            del self.events[:-EVENTS_KEPT]
            self.cond.notify_all()

    def wait(self, seq: int, closing: threading.Event, timeout: float) -> None:
        """Until an event after `seq` is there, the server closes, or `timeout` passes."""
        with self.cond:
            self.cond.wait_for(lambda: self.seq > seq or closing.is_set(), timeout=timeout)

    def since(self, seq: int) -> list[dict[str, Any]]:
        with self.cond:
            return [e for e in self.events if e["seq"] > seq]

    def state(self) -> dict[str, Any]:
        with self.cond:
            return {
                "running": self.running,
                "build": self.build,
                "seq": self.seq,
                "start_seq": self.start_seq,
            }

    def start(self, *, tier: str, jobs: int, shots: list[str] | None, planned: int) -> int:
        with self.cond:
            if self.running:
                raise UsageError(
                    "a build started from this page is still running", hint="wait for it"
                )
            self.running = True
            self.build += 1
            build = self.build
        self._emit("start", tier=tier, jobs=jobs, shots=shots, planned=planned)
        with self.cond:
            self.start_seq = self.seq
        threading.Thread(
            target=self._run,
            args=(tier, jobs, shots),
            name=f"vf-review-build-{build}",
            daemon=True,
        ).start()
        return build

    def _run(self, tier: str, jobs: int, shots: list[str] | None) -> None:
        from vfbuild import api
        from vfbuild.summary import build_lines

        try:
            report = api.open(self.root).build(
                shots=shots,
                tier=tier,
                jobs=jobs,
                on_event=lambda event: self._emit("line", text=str(event)),
            )
            self._emit(
                "done",
                ok=report.ok,
                made=len(report.made),
                spent=report.spent,
                errors=[e.render() for e in report.errors],
                summary=build_lines(report),
            )
        except VfError as e:  # another build holds the film's lock, a bad spec, …
            self._emit("done", ok=False, made=0, spent=0.0, errors=[e.render()], summary=[])
        except Exception as e:  # a bug: one line for the page, the traceback on the terminal
            traceback.print_exc()
            self._emit(
                "done", ok=False, made=0, spent=0.0, errors=[f"internal error: {e!r}"], summary=[]
            )
        finally:
            with self.cond:
                self.running = False
                self.cond.notify_all()


class ReviewServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path, port: int = 0, *, quiet: bool = True) -> None:
        self.root = root.resolve()
        self.token = secrets.token_urlsafe(32)
        self.quiet = quiet
        self.closing = threading.Event()
        self.builds = BuildRunner(self.root)
        self._sheet_lock = threading.Lock()
        self._sheet: tuple[str, bytes] | None = None  # (world, JSON) of the last sheet
        self.thumbs = Thumbs(vfdir.at(self.root, vfdir.THUMBS), vfdir.at(self.root, vfdir.OBJECTS))
        try:
            super().__init__((HOST, port), ReviewHandler)
        except OSError as e:
            raise UsageError(
                f"cannot listen on {HOST}:{port} ({e.strerror or e})",
                hint="give another --port, or leave it out for a free one",
            ) from None
        self.port = int(self.server_address[1])
        self.hosts = frozenset({f"{HOST}:{self.port}", f"localhost:{self.port}"})
        self.origins = frozenset(f"http://{h}" for h in self.hosts)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    def server_close(self) -> None:
        self.closing.set()
        with self.builds.cond:
            self.builds.cond.notify_all()
        super().server_close()

    def sheet_bytes(self) -> bytes:
        """The sheet as JSON: the one made last while the film has not changed since (kept
        here and in its stamp), else made again. One request at a time makes it: a page and
        the prewarm ask together."""
        from vfbuild.review.sheet import sheet_json, sheet_world

        with self._sheet_lock:
            kept = self._sheet
            if kept is not None and kept[0] == sheet_world(self.root):
                return kept[1]
            body, world = sheet_json(self.film())
            self._sheet = None if world is None else (world, body)
            return body

    def prewarm(self) -> None:
        """Make the sheet and the plan now, in the background: the page asks for them as soon
        as it loads."""

        def warm() -> None:
            with contextlib.suppress(Exception):  # the page's own request reports it
                self.sheet_bytes()
                self.film().plan(tier="final")  # keeps its answer in the plan stamp

        threading.Thread(target=warm, name="vf-review-prewarm", daemon=True).start()

    def film(self) -> Any:
        """The film, opened afresh: what the page shows is what is on disk now (another
        `vf pick` or `vf build` may have run since)."""
        from vfbuild import api

        return api.open(self.root)


class ReviewHandler(BaseHTTPRequestHandler):
    server: ReviewServer
    protocol_version = "HTTP/1.1"  # keep-alive: a page of 800 thumbnails reuses connections
    server_version = "vf-review"
    sys_version = ""

    # -- plumbing --------------------------------------------------------------------------

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: with Nagle's algorithm the body of each small
        # answer (a thumbnail) waited for the browser's delayed ACK, ~40 ms a request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        if not self.server.quiet:
            sys.stderr.write(f"vf review: {format % args}\n")

    def _send(
        self,
        status: int,
        body: bytes,
        ctype: str,
        *,
        cache: str = "no-store",
        extra: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", cache)
        self._safety_headers()
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _safety_headers(self) -> None:
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; "
            "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
            "form-action 'none'",
        )

    def _json(self, status: int, data: object) -> None:
        body = json.dumps(data, separators=(",", ":")).encode("utf-8")
        self._send(status, body, "application/json")

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"ok": False, "error": message})

    def _not_found(self) -> None:
        self._send(404, b"not found\n", "text/plain; charset=utf-8")

    def _host_ok(self) -> bool:
        """The request names this server (not another site's name pointed at 127.0.0.1)."""
        if self.headers.get("Host", "") in self.server.hosts:
            return True
        self._send(421, b"this server answers only to its own address\n", "text/plain")
        return False

    # -- GET -------------------------------------------------------------------------------

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        if not self._host_ok():
            return
        url = urlsplit(self.path)
        path = url.path
        try:
            route = self._gets().get(path)
            if route is not None:
                route(parse_qs(url.query))
            elif path.startswith("/static/"):
                self._asset(path.removeprefix("/static/"))
            elif path.startswith("/thumb/"):
                self._thumb(path.removeprefix("/thumb/"))
            elif path.startswith("/media/"):
                self._media(path.removeprefix("/media/"))
            else:
                self._not_found()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the page went away (a video seek, a reload)
        except VfError as e:
            self._error(400, e.render())
        except Exception as e:  # a bug: one line for the page, the traceback on the terminal
            traceback.print_exc()
            self._error(500, f"internal error: {e!r}")

    def _gets(self) -> dict[str, Callable[[dict[str, list[str]]], None]]:
        return {
            "/": self._page,
            "/index.html": self._page,
            "/api/sheet": self._sheet,
            "/api/plan": self._plan,
            "/api/build": lambda q: self._json(200, self.server.builds.state()),
            "/api/events": self._events,
        }

    def _page(self, query: dict[str, list[str]]) -> None:
        html = page.render_page(token=self.server.token)
        self._send(200, html.encode("utf-8"), "text/html; charset=utf-8")

    def _asset(self, name: str) -> None:
        found = page.asset(name)
        if found is None:
            self._not_found()
            return
        body, ctype = found
        self._send(200, body, ctype, cache="no-cache")

    def _sheet(self, query: dict[str, list[str]]) -> None:
        self._send(200, self.server.sheet_bytes(), "application/json")

    def _plan(self, query: dict[str, list[str]]) -> None:
        from vfbuild.review.sheet import plan_data

        tier = (query.get("tier") or ["final"])[0]
        if tier not in ("draft", "final"):
            self._error(400, "tier is draft or final")
            return
        self._json(200, plan_data(self.server.film().plan(tier=tier)))

    def _events(self, query: dict[str, list[str]]) -> None:
        """Server-sent events: every build event after `since`, then each as it comes."""
        try:
            seq = int((query.get("since") or ["0"])[0])
        except ValueError:
            seq = 0
        last = self.headers.get("Last-Event-ID")
        if last and last.isdigit():
            seq = int(last)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self._safety_headers()
        self.end_headers()
        self.close_connection = True
        runner = self.server.builds
        closing = self.server.closing
        while not closing.is_set():
            runner.wait(seq, closing, timeout=15)
            events = runner.since(seq)
            if not events:
                self.wfile.write(b": keep-alive\n\n")
            for e in events:
                seq = e["seq"]
                data = json.dumps(e, separators=(",", ":"))
                self.wfile.write(f"id: {seq}\nevent: build\ndata: {data}\n\n".encode())
            self.wfile.flush()

    def _thumb(self, name: str) -> None:
        sha = name.removesuffix(".jpg")
        if not _HEX64.fullmatch(sha):
            self._not_found()
            return
        out = self.server.thumbs.get(sha)
        if out is None:
            self._not_found()
            return
        # Named by the artifact's hash: it never changes.
        cache = "public, max-age=31536000, immutable"
        self._send(200, out.read_bytes(), "image/jpeg", cache=cache)

    def _media(self, raw: str) -> None:
        file = film_file(self.server.root, raw)
        if file is None:
            self._not_found()
            return
        ctype = MEDIA_TYPES.get(file.suffix.lower(), OCTET_STREAM)
        size = file.stat().st_size
        start, end = 0, size - 1
        status = 200
        want = self.headers.get("Range")
        if want:
            m = _RANGE.match(want.strip())
            if m is None or (not m[1] and not m[2]):
                self._send(416, b"", "text/plain", extra={"Content-Range": f"bytes */{size}"})
                return
            if m[1]:
                start = int(m[1])
                end = min(int(m[2]), size - 1) if m[2] else size - 1
            else:  # the last N bytes
                start = max(0, size - int(m[2]))
            if start > end or start >= size:
                self._send(416, b"", "text/plain", extra={"Content-Range": f"bytes */{size}"})
                return
            status = 206
        length = end - start + 1
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        # A layout name is never given to other bytes (vfbuild never overwrites a take).
        self.send_header("Cache-Control", "private, max-age=3600")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self._safety_headers()
        self.end_headers()
        if self.command == "HEAD":
            return
        with open(file, "rb") as f:
            f.seek(start)
            left = length
            while left > 0:
                chunk = f.read(min(256 * 1024, left))
                if not chunk:
                    break
                self.wfile.write(chunk)
                left -= len(chunk)

    # -- POST ------------------------------------------------------------------------------

    def do_POST(self) -> None:
        if not self._host_ok():
            return
        refused = self._refuse_write()
        if refused is not None:
            self.close_connection = True
            self._error(403, refused)
            return
        try:
            length = int(self.headers.get("Content-Length") or "0")
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            self.close_connection = True
            self._error(413, "the request body is missing or too large")
            return
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self._error(400, "the request body is not JSON")
            return
        if not isinstance(body, dict):
            self._error(400, "the request body is not a JSON object")
            return
        path = urlsplit(self.path).path
        try:
            if path == "/api/pick":
                self._pick(body)
            elif path == "/api/build":
                self._build(body)
            else:
                self._not_found()
        except VfError as e:
            self._error(409, e.render())
        except Exception as e:  # a bug: one line for the page, the traceback on the terminal
            traceback.print_exc()
            self._error(500, f"internal error: {e!r}")

    def _refuse_write(self) -> str | None:
        """Why this write is refused, or None: it must come from this server's own page."""
        origin = self.headers.get("Origin")
        if origin is not None and origin not in self.server.origins:
            return "a write from another site is refused"
        site = self.headers.get("Sec-Fetch-Site")
        if site is not None and site not in ("same-origin", "none"):
            return "a write from another site is refused"
        token = self.headers.get("X-VF-Token", "")
        if not hmac.compare_digest(token.encode("utf-8"), self.server.token.encode("utf-8")):
            return "this write does not carry the review page's token: reload the page"
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            return "a write is JSON"
        return None

    def _pick(self, body: dict[str, Any]) -> None:
        shot, step, take, version = (body.get(k) for k in ("shot", "step", "take", "version"))
        if not (isinstance(shot, str) and isinstance(step, str) and _is_int(take)):
            self._error(400, "a pick names a shot, a step and a take")
            return
        if version is not None and not _is_int(version):
            self._error(400, "a pick's version is a number")
            return
        film = self.server.film()
        # A build holds the film's lock (maybe this page's own): answer now, do not hang.
        res = film.pick(
            shot, step, int(take), None if version is None else int(version), wait=False
        )
        p = res.pick
        said = f"{shot} {step}: picked take {p.take} of v{p.version:03d} in {res.lock_file}"
        if res.previous and res.previous.key != p.key:
            said += f" (was take {res.previous.take} of v{res.previous.version:03d})"
        # The sheet from a fresh open: the lock was written through the one just used.
        sheet_json = self.server.sheet_bytes().decode("utf-8")
        answer = f'{{"ok":true,"said":{json.dumps(said)},"sheet":{sheet_json}}}'
        self._send(200, answer.encode("utf-8"), "application/json")

    def _build(self, body: dict[str, Any]) -> None:
        tier = body.get("tier", "final")
        jobs = body.get("jobs", 1)
        shots = body.get("shots")
        if tier not in ("draft", "final") or not _is_int(jobs) or not 1 <= jobs <= 16:
            self._error(400, "a build has a tier (draft or final) and 1 to 16 jobs")
            return
        if shots is not None and not (
            isinstance(shots, list) and all(isinstance(s, str) for s in shots)
        ):
            self._error(400, "a build's shots are a list of shot ids")
            return
        picked = list(shots) if shots else None
        planned = self.server.film().plan(tier=tier, shots=picked).takes
        build = self.server.builds.start(tier=tier, jobs=jobs, shots=picked, planned=planned)
        self._json(200, {"ok": True, "build": build, "planned": planned})


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def film_file(root: Path, raw: str) -> Path | None:
    """The film's layout file that the URL path `raw` names, or None: a `..`, an absolute or
    odd path, a file outside the layout folders, or a link that leads out of them."""
    rel = unquote(raw)
    if not rel or "\0" in rel or "\\" in rel or rel.startswith("/"):
        return None
    parts = rel.split("/")
    if any(p in ("", ".", "..") for p in parts) or parts[0] not in MEDIA_FOLDERS:
        return None
    try:
        real = (root / rel).resolve(strict=True)
        inside = real.relative_to(root)
    except (OSError, ValueError, RuntimeError):
        return None
    if not inside.parts or inside.parts[0] not in MEDIA_FOLDERS or not real.is_file():
        return None
    return real


def serve(root: Path, *, port: int = 0, open_browser: bool = False) -> None:
    """Serve the film's review page until interrupted."""
    server = ReviewServer(root, port)
    server.prewarm()
    print(f"vf review: {server.url}  (Ctrl-C stops it)", flush=True)
    if open_browser:
        import webbrowser

        threading.Thread(target=webbrowser.open, args=(server.url,), daemon=True).start()
    try:
        server.serve_forever(poll_interval=0.25)
    finally:
        server.server_close()
        if server.builds.running:
            print("vf review: stopped; the build it started was interrupted", file=sys.stderr)
