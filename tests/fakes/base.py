"""A fake provider: a real HTTP/1.1 server on 127.0.0.1 (ephemeral port) in a thread.

Each provider's fake (fal.py, replicate.py, …) subclasses `FakeServer`, declares its routes
with `route()`, and answers with the provider's published bodies, statuses and headers. This
base gives them what every fake needs:

- jobs with a latency (queued for the first fifth, then running, then done), that fail on
  request, and a count of the paid jobs accepted (`paid_jobs`);
- real media made with ffmpeg (PNG stills, H.264 MP4 clips), cached per size and seed;
- a second server, the CDN, on another origin (`localhost` instead of `127.0.0.1`), where
  results are downloaded from; it records any credential sent to it (`cdn_auth_seen`);
- faults on request: 429 with Retry-After, 500, 503, a stalled response, a dropped connection,
  a 422 refusal of the input (only when forced: `faults.force("create", "422")`),
  a truncated download (Content-Length larger than the body), a corrupt media file;
- results that are not what was asked, queued per kind of job (`override_result`): well-formed
  media of half the size, of a square aspect, a tenth of the length, a video for an image, or
  a lip-sync without the sound it was given;
- a lip-sync result that carries the audio it was given (`job.extra["audio"]`), muxed in;
- sound (jobs of kind "audio"): a voice reading (a warbling tone, `extra["sound"] = "voice"`)
  or a piece of music (a chord), as mp3 or wav (`extra["format"]`), of the job's length; the
  overrides "silent" (a reading of digital silence) and "short" (a tenth: a truncated piece);
- signed uploads on the CDN (`issue_upload`: a PUT URL and the file's public URL), as fal's
  storage hands out, and `fetch_input`: an input URL read the way a provider reads it.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import random
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

API_FAULTS = ("429", "500", "503", "stall", "drop")
# What a queued result override makes of a job instead (see `FakeServer.override_result`).
RESULT_OVERRIDES = ("small", "square", "short", "silent", "clip")
_DATA_URI = re.compile(r"data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<b64>;base64)?,(?P<data>.*)", re.S)
DOWNLOAD_FAULTS = ("500", "503", "drop", "truncate", "corrupt")


def decode_data_uri(value: Any) -> bytes | None:
    """The bytes of a `data:` URI, or None if it is not one (or does not decode)."""
    if not isinstance(value, str):
        return None
    m = _DATA_URI.fullmatch(value)
    if m is None:
        return None
    try:
        if m.group("b64"):
            return base64.b64decode(m.group("data"), validate=True)
        return m.group("data").encode()
    except (binascii.Error, ValueError):
        return None


@dataclass
class Faults:
    """Which faults a fake injects. `rate` is the chance per request; `forced` queues exact
    faults per route kind ("create", "api", "download") for deterministic tests."""

    rate: float = 0.0
    kinds: tuple[str, ...] = API_FAULTS + ("truncate", "corrupt")
    seed: int = 0
    fail_jobs: bool = False  # every job ends failed
    fail_rate: float = 0.0  # or this share of them
    retry_after: str = "1"
    stall_seconds: float = 4.0
    forced: dict[str, list[str]] = field(default_factory=dict)
    injected: list[tuple[str, str]] = field(default_factory=list)  # (route kind, fault) log

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()

    def force(self, route_kind: str, *faults: str) -> None:
        with self._lock:
            self.forced.setdefault(route_kind, []).extend(faults)

    def draw(self, route_kind: str) -> str | None:
        with self._lock:
            queue = self.forced.get(route_kind)
            if queue:
                fault = queue.pop(0)
            else:
                allowed = DOWNLOAD_FAULTS if route_kind == "download" else API_FAULTS
                choices = [k for k in self.kinds if k in allowed]
                if not choices or self._rng.random() >= self.rate:
                    return None
                fault = self._rng.choice(choices)
            self.injected.append((route_kind, fault))
            return fault

    def job_fails(self) -> bool:
        with self._lock:
            return self.fail_jobs or self._rng.random() < self.fail_rate


@dataclass
class FakeJob:
    id: str
    kind: str  # "image" or "video"
    input: dict[str, Any]
    width: int = 64
    height: int = 64
    seconds: float = 1.0
    seed: int = 0
    latency: float = 0.2
    fail: bool = False
    created: float = field(default_factory=time.monotonic)
    canceled: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def state(self) -> str:
        """queued, running, done, failed or canceled."""
        if self.canceled:
            return "canceled"
        age = time.monotonic() - self.created
        if age < self.latency * 0.2:
            return "queued"
        if age < self.latency:
            return "running"
        return "failed" if self.fail else "done"

    def progress(self) -> float:
        return min(1.0, (time.monotonic() - self.created) / self.latency) if self.latency else 1.0


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    match: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Reply:
    status: int = 200
    json: Any = None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    file: Path | None = None
    content_type: str = "application/json"
    stream: Iterator[bytes] | None = None  # sent chunked as it comes (server-sent events)


Handler = Callable[[Request], Reply]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # -j 16 opens many connections at once; 5 would refuse some

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        """Cut every open connection, as a killed server's kernel does: a keep-alive
        connection would otherwise go on being answered by its handler thread."""
        with self._open_lock:
            open_now = list(self._open)
        for conn in open_now:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that was killed or timed out mid-reply is part of the tests, not a failure.
        import sys

        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


class FakeServer:
    """Subclasses set `name`, add routes in `setup_routes()`, and may override `check_auth`
    and `error_reply` to speak their provider's dialect."""

    name = "fake"

    def __init__(
        self, *, latency: float = 0.2, faults: Faults | None = None, fps: int = 24
    ) -> None:
        self.latency = latency
        self.faults = faults or Faults()
        self.fps = fps
        self.jobs: dict[str, FakeJob] = {}
        self.log: list[tuple[str, str]] = []  # (method, path) of every request
        self.cdn_auth_seen: list[str] = []
        self.big_files: dict[str, Path] = {}
        # Signed uploads: token -> {name, type, path (None until the PUT arrives)}.
        self.signed_uploads: dict[str, dict[str, Any]] = {}
        self.uploads_received = 0
        # Luma and Kling fetch inputs by URL; True lets them take `data:` URIs too.
        self.data_uris = True
        self._paid = 0
        self._lock = threading.Lock()
        self._routes: list[tuple[str, re.Pattern[str], Handler, str]] = []
        self._media_dir = Path(tempfile.mkdtemp(prefix=f"fake-{self.name}-"))
        self._media_lock = threading.Lock()
        self._tag_locks: dict[str, threading.Lock] = {}
        self.eager_media = True  # make a job's result while it "runs", as a real server does
        # False: one result per size (benchmarks, where the fake's ffmpeg must not compete with
        # the build for the CPU). True: every job its own bytes, as a real generator's.
        self.unique_media = True
        self.create_delay = 0.0  # seconds a create's reply takes, after the job is made
        # Called after a create made its job and before its reply goes out (a test kills the
        # client there: the job is taken, and the client never learns its id).
        self.on_create: Callable[[], None] | None = None
        # Called with each request to the API once its reply is made and before it goes out
        # (a test moves a job on there: it ends between two of the client's questions).
        self.on_reply: Callable[[Request], None] | None = None
        # Kind of job (the fake's own names: "upscale", "lipsync", "i2v"…) -> overrides queued
        # for its next jobs, one each; the jobs they spoiled, by id.
        self.result_override: dict[str, list[str]] = {}
        self.overridden: dict[str, str] = {}
        self._mux_lock = threading.Lock()
        self._api = _Server(("127.0.0.1", 0), self._handler_class(cdn=False))
        self._cdn = _Server(("127.0.0.1", 0), self._handler_class(cdn=True))
        self.setup_routes()

    # -- life -------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._api.server_address[1]}"

    @property
    def cdn_url(self) -> str:
        return f"http://localhost:{self._cdn.server_address[1]}"

    def start(self) -> FakeServer:
        for srv in (self._api, self._cdn):
            # shutdown() waits for the loop's next poll: 50 ms, not the default 0.5 s
            threading.Thread(
                target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            ).start()
        return self

    def stop(self) -> None:
        for srv in (self._api, self._cdn):
            srv.shutdown()
            srv.server_close()
            srv.drop_connections()
        shutil.rmtree(self._media_dir, ignore_errors=True)

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what subclasses use ----------------------------------------------------------------

    def setup_routes(self) -> None:
        raise NotImplementedError

    def route(self, method: str, pattern: str, handler: Handler, kind: str = "api") -> None:
        """`pattern` is a regex over the path with named groups; `kind` is "create" for the
        POST that starts a paid job, "api" for other calls."""
        self._routes.append((method, re.compile(pattern + "$"), handler, kind))

    def route_kind(self, method: str, path: str) -> str | None:
        """The kind ("create", "api", "download") of the route a request to the API takes, as
        the faults see it; None where no route matches (the CDN's paths, a 404)."""
        return next((k for m, p, _, k in self._routes if m == method and p.match(path)), None)

    def check_auth(self, req: Request) -> Reply | None:
        """None if the request may go on, else the provider's 401 reply."""
        return None

    def error_reply(self, status: int) -> Reply:
        """The provider's body for an injected 429/500/503."""
        return Reply(status, {"detail": f"injected {status}"})

    @property
    def paid_jobs(self) -> int:
        return self._paid

    def new_job(self, job_id: str, kind: str, input: dict[str, Any], **kw: Any) -> FakeJob:
        """Accept a paid job (counted once)."""
        # Every job gets its own bytes (as a real generator's would), even without a seed:
        # identical results would be deduplicated by the store and hide bugs.
        if not self.unique_media:
            kw["seed"] = 0
        elif not kw.get("seed"):
            kw["seed"] = int(hashlib.sha1(f"{self.name}:{job_id}".encode()).hexdigest()[:8], 16)
        job = FakeJob(job_id, kind, input, latency=self.latency, fail=self.faults.job_fails(), **kw)
        with self._lock:
            self.jobs[job_id] = job
            self._paid += 1
        if self.eager_media and not job.fail:
            threading.Thread(target=self._premake, args=(job,), daemon=True).start()
        return job

    def override_result(self, kind: str, *modes: str) -> None:
        """Make the next jobs of `kind` (one per mode) succeed with media that is not what was
        asked: "small" (half the width and height), "square" (as high as wide), "short" (a
        tenth of the length), "silent" (a lip-sync without its audio), "clip" (a video where
        an image was asked)."""
        assert all(m in RESULT_OVERRIDES for m in modes), modes
        with self._lock:
            self.result_override.setdefault(kind, []).extend(modes)

    def spoil(self, kind: str, job: dict[str, Any]) -> str | None:
        """Apply the next override queued for `kind` to a job's `new_job` keywords (width,
        height, seconds, extra; "kind" for a job of another kind) before it is made; the
        override, if there was one."""
        with self._lock:
            queue = self.result_override.get(kind)
            mode = queue.pop(0) if queue else None
        if mode == "silent" and job.get("kind") == "audio":
            job["extra"] = {**job.get("extra", {}), "silent": True}
        elif mode == "small":
            job["width"], job["height"] = job["width"] // 2, job["height"] // 2
        elif mode == "square":
            job["height"] = job["width"]
        elif mode == "short":
            job["seconds"] = round(job["seconds"] / 10, 2)
        elif mode == "silent":
            job["extra"] = {**job.get("extra", {}), "audio": None}
        elif mode == "clip":
            job["kind"] = "video"
        return mode

    def keep_input(self, data: bytes, suffix: str) -> Path:
        """An input's bytes as a file of the fake's own (a lip-sync's audio, muxed in later)."""
        path = self._media_dir / f"input-{uuid.uuid4().hex}{suffix}"
        path.write_bytes(data)
        return path

    def _premake(self, job: FakeJob) -> None:
        with contextlib.suppress(Exception):  # a download will make it (and say why) again
            self.media(job)

    def media_url(self, job: FakeJob) -> str:
        """Where the job's result downloads from (the CDN)."""
        ext = "png" if job.kind == "image" else "mp4"
        if job.kind == "audio":
            ext = str(job.extra.get("format") or "wav")
        return f"{self.cdn_url}/files/{job.id}.{ext}"

    def serve_file(self, path: Path) -> str:
        """A CDN URL that streams `path` (e.g. a 1 GiB file for the memory benchmark)."""
        token = hashlib.sha1(str(path).encode()).hexdigest()[:16]
        self.big_files[token] = path
        return f"{self.cdn_url}/big/{token}"

    def issue_upload(self, file_name: str, content_type: str) -> tuple[str, str]:
        """A signed upload URL on the CDN and the public URL the file will have there."""
        token = uuid.uuid4().hex
        with self._lock:
            self.signed_uploads[token] = {"name": file_name, "type": content_type, "path": None}
        return (
            f"{self.cdn_url}/upload/{token}?X-Goog-Signature={uuid.uuid4().hex}",
            f"{self.cdn_url}/uploads/{token}/{file_name}",
        )

    def _upload_reply(self, req: Request) -> Reply:
        m = re.match(r"/(upload|uploads)/(?P<token>[0-9a-f]{32})(/[^/]+)?$", req.path)
        slot = self.signed_uploads.get(m.group("token")) if m else None
        if m is None or slot is None:
            return Reply(404, {"detail": "not found"})
        if req.method == "PUT" and m.group(1) == "upload":
            # A signed URL binds the content type it was issued for (GCS: 403 otherwise).
            if req.headers.get("content-type") != slot["type"]:
                return Reply(403, body=b"<Error><Code>SignatureDoesNotMatch</Code></Error>")
            path = self._media_dir / f"upload-{m.group('token')}"
            path.write_bytes(req.body)
            with self._lock:
                slot["path"] = path
                self.uploads_received += 1
            return Reply(200, body=b"")
        if req.method == "GET" and m.group(1) == "uploads" and slot["path"] is not None:
            return Reply(200, file=slot["path"], content_type=slot["type"])
        return Reply(404, {"detail": "not found"})

    def read_input(self, value: Any) -> bytes | None:
        """A file input's bytes: a `data:` URI (unless `data_uris` is off) or a URL."""
        if not isinstance(value, str):
            return None
        if value.startswith("data:"):
            return decode_data_uri(value) if self.data_uris else None
        return self.fetch_input(value)

    def fetch_input(self, url: str) -> bytes | None:
        """The bytes at an http(s) input URL, read as a provider reads one (this machine's
        servers only: tests never leave 127.0.0.1), or None if it cannot be read. The read
        skips the fault injection: it is the provider's own, not the client's."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or parts.hostname not in (
            "127.0.0.1",
            "localhost",
        ):
            return None
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        req = urllib.request.Request(url, headers={"X-Fake-Provider-Fetch": "1"})
        try:
            with opener.open(req, timeout=10) as resp:
                return bytes(resp.read())
        except OSError:
            return None

    def media(self, job: FakeJob) -> Path:
        """Real media for a job, made with ffmpeg, cached by kind, size, length and seed; a
        lip-sync's with the audio it was given (`extra["audio"]`), padded or cut to the clip."""
        if job.kind == "audio":
            return self._sound(job)
        video = self._picture(job)
        audio = job.extra.get("audio")
        if audio is None:
            return video
        from vfbuild.media.ffmpeg import ffmpeg_exe

        out = self._media_dir / f"lipsync-{job.id}.mp4"
        with self._mux_lock:  # the job's result may be asked for while it is being made
            if not out.exists():
                tmp = out.with_suffix(".part.mp4")
                subprocess.run(
                    [ffmpeg_exe(), "-v", "error", "-y", "-i", str(video), "-i", str(audio),
                     "-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", "aac",
                     "-af", "apad", "-shortest", "-movflags", "+faststart", str(tmp)],
                    check=True,
                    capture_output=True,
                )  # fmt: skip
                tmp.rename(out)
        return out

    def _picture(self, job: FakeJob) -> Path:
        from vfbuild.media.ffmpeg import ffmpeg_exe

        w, h = job.width - job.width % 2, job.height - job.height % 2
        tag = f"{job.kind}-{w}x{h}-{job.seconds}-{job.seed}"
        out = self._media_dir / (tag + (".png" if job.kind == "image" else ".mp4"))
        with self._media_lock:
            tag_lock = self._tag_locks.setdefault(tag, threading.Lock())
        with tag_lock:  # one ffmpeg per result, results made side by side
            if out.exists():
                return out
            # The hue shows the seed; one marked pixel makes the bytes unique per seed.
            x, y = job.seed % w, (job.seed // w) % h
            hue = f"hue=h={job.seed % 360},drawbox=x={x}:y={y}:w=1:h=1:color=white:t=fill"
            if job.kind == "image":
                args = ["-f", "lavfi", "-i", f"testsrc2=size={w}x{h}:rate=1", "-vf", hue,
                        "-frames:v", "1", "-metadata", f"comment={job.seed}", str(out)]  # fmt: skip
            else:
                args = ["-f", "lavfi", "-i",
                        f"testsrc2=size={w}x{h}:rate={self.fps}:duration={job.seconds}",
                        "-vf", hue, "-c:v", "libx264", "-preset", "ultrafast",
                        "-pix_fmt", "yuv420p", "-movflags", "+faststart",
                        "-metadata", f"comment={job.seed}", str(out)]  # fmt: skip
            tmp = out.with_suffix(".part" + out.suffix)
            args[-1] = str(tmp)
            subprocess.run(
                [ffmpeg_exe(), "-v", "error", "-y", *args], check=True, capture_output=True
            )
            tmp.rename(out)
        return out

    def _sound(self, job: FakeJob) -> Path:
        """A voice reading or a piece of music, made with ffmpeg: real audio of the job's
        length whose pitch shows the seed (digital silence for a "silent" override)."""
        from vfbuild.media.ffmpeg import ffmpeg_exe

        fmt = str(job.extra.get("format") or "wav")
        out = self._media_dir / f"sound-{job.id}.{fmt}"
        with self._media_lock:
            tag_lock = self._tag_locks.setdefault(out.name, threading.Lock())
        with tag_lock:
            if out.exists():
                return out
            seconds = f"{max(0.05, job.seconds):.3f}"
            freq = 180 + job.seed % 300
            if job.extra.get("silent"):
                src = f"anullsrc=r=44100:cl=mono,atrim=0:{seconds}"
            elif job.extra.get("sound") == "voice":  # a voice-like warble at 44.1 kHz mono
                src = f"sine=f={freq}:d={seconds}:r=44100,tremolo=f=5:d=0.7"
            else:  # a chord in stereo
                src = (
                    f"aevalsrc=0.2*sin({freq}*2*PI*t)+0.2*sin({freq * 1.25:.2f}*2*PI*t)|"
                    f"0.2*sin({freq * 1.5:.2f}*2*PI*t):s=44100:d={seconds}"
                )
            codec = (
                ["-c:a", "libmp3lame", "-b:a", "128k"] if fmt == "mp3" else ["-c:a", "pcm_s16le"]
            )
            tmp = out.with_suffix(".part." + fmt)
            subprocess.run(
                [ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", src, *codec,
                 "-f", fmt, str(tmp)],
                check=True,
                capture_output=True,
            )  # fmt: skip
            tmp.rename(out)
        return out

    # -- the HTTP plumbing ------------------------------------------------------------------

    def _dispatch(self, req: Request) -> tuple[Reply, str]:
        for method, pattern, handler, kind in self._routes:
            if method != req.method:
                continue
            m = pattern.match(req.path)
            if m:
                req.match = {k: v for k, v in m.groupdict().items() if v is not None}
                denied = self.check_auth(req)
                return (denied or handler(req)), kind
        return Reply(404, {"detail": f"no route {req.method} {req.path}"}), "api"

    def _cdn_reply(self, req: Request) -> Reply:
        if "authorization" in req.headers:
            self.cdn_auth_seen.append(req.headers["authorization"])
        if req.path.startswith(("/upload/", "/uploads/")):
            return self._upload_reply(req)
        if req.path.startswith("/big/"):
            path = self.big_files.get(req.path.split("/")[-1])
            return (
                Reply(200, file=path, content_type="application/octet-stream")
                if path
                else Reply(404)
            )
        m = re.match(r"/files/(?P<id>[^/]+)\.(png|mp4|mp3|wav)$", req.path)
        job = self.jobs.get(m.group("id")) if m else None
        if job is None:
            return Reply(404, {"detail": "not found"})
        ctype = "image/png" if job.kind == "image" else "video/mp4"
        if job.kind == "audio":
            ctype = "audio/mpeg" if job.extra.get("format") == "mp3" else "audio/wav"
        return Reply(200, file=self.media(job), content_type=ctype)

    def _handler_class(self, *, cdn: bool) -> type[BaseHTTPRequestHandler]:
        fake = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                # Headers and body go out in two writes: without this, Nagle and delayed ACKs
                # hold every keep-alive reply back ~40 ms.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def _go(self) -> None:
                parts = urlsplit(self.path)
                n = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(n) if n else b""
                req = Request(
                    "GET" if self.command == "HEAD" else self.command,  # HEAD: GET's headers
                    parts.path,
                    {k: v[-1] for k, v in parse_qs(parts.query).items()},
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                    {},
                )
                with fake._lock:
                    fake.log.append((self.command, req.path))
                if cdn:
                    kind = "download"
                    internal = "x-fake-provider-fetch" in req.headers
                    fault = None if internal else fake.faults.draw(kind)
                    reply = fake._cdn_reply(req)
                else:
                    # Find the route first: a fault on a create happens before or after the
                    # job is made, as a real lost reply would.
                    kind = next(
                        (k for m, p, _, k in fake._routes if m == req.method and p.match(req.path)),
                        "api",
                    )
                    fault = fake.faults.draw(kind)
                    # A forced "422": the provider refusing the input (never drawn at random).
                    if fault in ("429", "500", "503", "422"):
                        r = fake.error_reply(int(fault))
                        if fault in ("429", "503"):
                            r.headers.setdefault("Retry-After", fake.faults.retry_after)
                        return self._send(r)
                    reply, kind = fake._dispatch(req)
                    if fake.on_reply is not None:
                        fake.on_reply(req)
                    if kind == "create" and fake.create_delay:
                        time.sleep(fake.create_delay)  # the job exists; its reply is on its way
                    if kind == "create" and fake.on_create is not None:
                        fake.on_create()
                if fault == "stall":
                    time.sleep(fake.faults.stall_seconds)
                    return self._drop()
                if fault == "drop":
                    return self._drop()
                if cdn and fault in ("500", "503"):
                    return self._send(Reply(int(fault), {"detail": "injected"}))
                self._send(reply, fault=fault)

            def _drop(self) -> None:
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)

            def _send(self, r: Reply, fault: str | None = None) -> None:
                if r.stream is not None:
                    self.send_response(r.status)
                    self.send_header("Content-Type", r.content_type)
                    self.send_header("Cache-Control", "no-cache")
                    self.send_header("Transfer-Encoding", "chunked")
                    for k, v in r.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    for chunk in r.stream:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                    return
                if r.file is not None:
                    size = r.file.stat().st_size
                    self.send_response(r.status)
                    self.send_header("Content-Type", r.content_type)
                    self.send_header("Content-Length", str(size))
                    for k, v in r.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    if self.command == "HEAD":
                        return
                    if fault == "corrupt":
                        self.wfile.write(
                            bytes(random.getrandbits(8) for _ in range(min(size, 4096))).ljust(
                                size, b"\0"
                            )
                        )
                        return
                    limit = size // 2 if fault == "truncate" else size
                    with open(r.file, "rb") as f:
                        sent = 0
                        while sent < limit and (chunk := f.read(min(1 << 20, limit - sent))):
                            self.wfile.write(chunk)
                            sent += len(chunk)
                    if fault == "truncate":
                        self._drop()
                    return
                data = (
                    r.body
                    if r.body is not None
                    else (
                        b"" if r.json is None and r.status == 204 else json.dumps(r.json).encode()
                    )
                )
                self.send_response(r.status)
                self.send_header("Content-Type", r.content_type)
                self.send_header("Content-Length", str(len(data)))
                for k, v in r.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _go

        return H
