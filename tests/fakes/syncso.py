"""A fake sync.so lip-sync API (api.sync.so), from its published v2 API.

- auth: `x-api-key: <key>` (401 `{message}` otherwise).
- `POST /v2/generate` with `{model, input: [{type: video, url}, {type: audio, url}], options}`
  (a paid job, route kind "create") → 201 and the generation `{id, status: PENDING, model,
  input, options, createdAt, outputUrl: null}`. Models: sync-3, lipsync-2, lipsync-2-pro,
  lipsync-1.9.0-beta, react-1 (sync.so/docs/api-reference).
- `Idempotency-Key` (sync.so/docs/api-reference/guides/idempotency): optional; 1-128 characters
  of `[A-Za-z0-9._~-]`, else 400 `INVALID_IDEMPOTENCY_KEY`. The same key with the same body
  answers with the generation it made (200, no new job, nothing paid again), also when the
  first reply was lost; the same key with another body is refused (422
  `IDEMPOTENCY_KEY_REUSED`). A refused request (400/422) does not take the key.
- `GET /v2/generate/{id}`: status PENDING → PROCESSING → COMPLETED (`outputUrl`, on the CDN
  origin) or FAILED (`error`, `errorCode`); 404 `{message}` for an unknown id.
- input URLs are read as sync.so reads them (this machine only; `data:` URIs too, where the
  real service may want hosting): the video must be a video, the audio audio (422 otherwise).
- injected faults: 429/500/503 with `{message}` (429 and 503 with Retry-After), and a forced
  422 (a refused input).

Output: the input clip's size and length with the audio muxed in.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.fakes.base import FakeJob, FakeServer, Reply, Request
from tests.fakes.fal import is_audio, video_info

KEYS: dict[str, str] = {"SYNC_API_KEY": "sk-sync-test-5d7c1b9e2a4f4e6d8c0b3a5f7e9d1c2b"}
MODELS = frozenset({"sync-3", "lipsync-2", "lipsync-2-pro", "lipsync-1.9.0-beta", "react-1"})
SYNC_MODES = ("cut_off", "loop", "bounce", "silence", "remap")
IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9._~-]{1,128}")
STATUS = {
    "queued": "PENDING",
    "running": "PROCESSING",
    "done": "COMPLETED",
    "failed": "FAILED",
    "canceled": "CANCELED",
}


class SyncFake(FakeServer):
    name = "sync"

    def __init__(self, *, key: str | None = None, **kw: Any) -> None:
        self.key = key or KEYS["SYNC_API_KEY"]
        # Idempotency-Key -> (the body's canonical JSON, the generation id it made).
        self.idempotent: dict[str, tuple[str, str]] = {}
        self.replays = 0  # creates answered with an earlier generation
        self.keys_seen: list[str | None] = []  # each create's Idempotency-Key, in order
        self._keys_lock = threading.Lock()
        super().__init__(**kw)

    def setup_routes(self) -> None:
        self.route("POST", r"/v2/generate", self.create, "create")
        self.route("GET", r"/v2/generate/(?P<id>[^/]+)", self.get)

    def check_auth(self, req: Request) -> Reply | None:
        if req.headers.get("x-api-key") != self.key:
            return Reply(401, {"message": "Unauthorized: invalid or missing API key"})
        return None

    def error_reply(self, status: int) -> Reply:
        if status == 422:
            return Reply(422, {"message": "The video has no detectable face", "code": "NO_FACE"})
        return Reply(status, {"message": {429: "Too many requests"}.get(status, "Server error")})

    # -- routes -----------------------------------------------------------------------------

    def create(self, req: Request) -> Reply:
        key = req.headers.get("idempotency-key")
        with self._keys_lock:
            self.keys_seen.append(key)
        if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
            return Reply(
                400, {"message": "Malformed Idempotency-Key", "code": "INVALID_IDEMPOTENCY_KEY"}
            )
        try:
            body = req.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return Reply(400, {"message": "The body must be a JSON object"})
        canonical = json.dumps(body, sort_keys=True)
        with self._keys_lock:
            if key is not None and key in self.idempotent:
                first, gen_id = self.idempotent[key]
                if first != canonical:
                    return Reply(
                        422,
                        {
                            "message": "This Idempotency-Key was used with another request",
                            "code": "IDEMPOTENCY_KEY_REUSED",
                        },
                    )
                self.replays += 1
                return Reply(200, self._generation(self.jobs[gen_id]))
            problem = self._validate(body)
            if isinstance(problem, Reply):
                return problem
            (w, h, seconds), audio = problem
            gen_id = str(uuid.uuid4())
            job = self.new_job(
                gen_id,
                "video",
                body,
                width=w,
                height=h,
                seconds=seconds,
                extra={"audio": self.keep_input(audio, ".audio"), "created": _now()},
            )
            if key is not None:
                self.idempotent[key] = (canonical, gen_id)
        return Reply(201, self._generation(job))

    def _validate(self, body: dict[str, Any]) -> tuple[tuple[int, int, float], bytes] | Reply:
        if body.get("model") not in MODELS:
            return Reply(400, {"message": f"model must be one of {', '.join(sorted(MODELS))}"})
        items = body.get("input")
        if not isinstance(items, list):
            return Reply(400, {"message": "input must be a list of {type, url}"})
        by_type = {i.get("type"): i.get("url") for i in items if isinstance(i, dict)}
        if set(by_type) != {"video", "audio"}:
            return Reply(400, {"message": "input needs one video and one audio"})
        video = self.read_input(by_type["video"])
        info = video_info(video) if video is not None else None
        if info is None:
            return Reply(422, {"message": "The video could not be read", "code": "INVALID_VIDEO"})
        audio = self.read_input(by_type["audio"])
        if audio is None or not is_audio(audio):
            return Reply(422, {"message": "The audio could not be read", "code": "INVALID_AUDIO"})
        options = body.get("options", {})
        if not isinstance(options, dict):
            return Reply(400, {"message": "options must be an object"})
        if options.get("sync_mode", "cut_off") not in SYNC_MODES:
            return Reply(400, {"message": f"options.sync_mode must be one of {SYNC_MODES}"})
        return info, audio

    def get(self, req: Request) -> Reply:
        job = self.jobs.get(req.match["id"])
        if job is None:
            return Reply(404, {"message": "Generation not found"})
        return Reply(200, self._generation(job))

    def _generation(self, job: FakeJob) -> dict[str, Any]:
        status = STATUS[job.state()]
        out: dict[str, Any] = {
            "id": job.id,
            "status": status,
            "model": job.input.get("model"),
            "input": job.input.get("input"),
            "options": job.input.get("options", {}),
            "createdAt": job.extra["created"],
            "outputUrl": self.media_url(job) if status == "COMPLETED" else None,
            "error": None,
        }
        if status == "FAILED":
            out |= {
                "error": "Lipsync failed: no face was tracked",
                "errorCode": "GENERATION_FAILED",
            }
        return out


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def film_providers(fake: SyncFake, film_root: Path) -> dict[str, Any]:
    """The `providers:` of shots.yaml for a film whose lip-sync goes through this fake."""
    return {"lipsync": {"use": "sync", "base_url": fake.url}}
