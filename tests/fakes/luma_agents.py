"""A fake Luma Agents API (agents.lumalabs.ai/v1), Ray 3.2 video, for tests and film builds.

What it speaks, from Luma's published docs (docs.agents.lumalabs.ai: guides/videos/generation,
guides/model, guides/error-handling, api/resources/generations):

- auth: `Authorization: Bearer <key>`; 401 `{"detail"}` otherwise. Every reply carries
  `X-API-Version: 2026-04-01` and an `X-Request-Id`.
- `POST /v1/generations` `{model: ray-3.2, type: video, prompt, aspect_ratio, video:
  {resolution: 540p|720p|1080p, duration: 5s|10s, start_frame, end_frame, loop, hdr}}`; a frame
  is an ImageRef, exactly one of `url`, `data` (base64, with `media_type`) or `generation_id`.
  Paid; 201 with the generation. Anchor frames with `10s`: 422 ("parameter combination
  rejected"); a bad field: 400 `{"detail"}`; media that cannot be read: 422.
- `GET /v1/generations/{id}`: `{id, created_at, model, state: queued|processing|completed|
  failed, type, failure_code, failure_reason, output: [{type: video, url}]}`; 404 unknown.
- Nothing else: no list, no cancel (none is published).
- injected faults: 429/500/503 with `{"detail"}` (429/503 with Retry-After); a forced 422 is a
  refused input; `refuse_codes` makes jobs end `failed` with that `failure_code`.

Output: video at the resolution's height and the aspect ratio, 5 s (10 s without frames).
"""

from __future__ import annotations

import base64
import binascii
import uuid
from pathlib import Path
from typing import Any

from tests.fakes.base import FakeJob, FakeServer, Reply, Request
from tests.fakes.luma import _dims, _json_object, _now

API_KEY = "luma-api-5b0e7c2d9a4f4e1b8c3d6a7f0e2b9c41-test"
KEYS: dict[str, str] = {"LUMA_AGENTS_API_KEY": API_KEY}
BASE = "/v1/generations"
MODELS = ("ray-3.2",)
ASPECTS = ("9:16", "3:4", "1:1", "4:3", "16:9", "21:9")
RESOLUTIONS = {"540p": 540, "720p": 720, "1080p": 1080}
DURATIONS = {"5s": 5.0, "10s": 10.0}
STATE = {"queued": "queued", "running": "processing", "done": "completed", "failed": "failed"}
HEADERS = {"X-API-Version": "2026-04-01"}


class LumaAgentsFake(FakeServer):
    name = "luma-agents"

    def __init__(self, *, key: str = API_KEY, **kw: Any) -> None:
        self.key = key
        self.refuse_codes: list[str] = []  # failure codes for the next jobs, one each
        self.requests: list[dict[str, Any]] = []  # every accepted create's body
        super().__init__(**kw)

    def setup_routes(self) -> None:
        self.route("POST", BASE, self.create, "create")
        self.route("GET", rf"{BASE}/(?P<id>[0-9a-f-]+)", self.get)

    def check_auth(self, req: Request) -> Reply | None:
        if req.headers.get("authorization") != f"Bearer {self.key}":
            return self._reply(401, {"detail": "Invalid or missing API key"})
        return None

    def error_reply(self, status: int) -> Reply:
        detail = {
            422: "Bad media data: the image shows a recognisable person",
            429: "Rate limit exceeded",
            500: "Internal server error",
            503: "Image ingestion unavailable",
        }.get(status, "Upstream service unavailable")
        return self._reply(status, {"detail": detail})

    def _reply(self, status: int, body: Any) -> Reply:
        r = Reply(status, body)
        r.headers.update(HEADERS | {"X-Request-Id": str(uuid.uuid4())})
        return r

    def _bad(self, detail: str, status: int = 400) -> Reply:
        return self._reply(status, {"detail": detail})

    # -- create -----------------------------------------------------------------------------

    def create(self, req: Request) -> Reply:
        body = _json_object(req)
        if body is None:
            return self._bad("body: a JSON object is required")
        if body.get("model") not in MODELS:
            return self._bad(f"model: must be one of {', '.join(MODELS)}")
        if body.get("type") != "video":
            return self._bad("type: ray-3.2 makes type 'video' here")
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not 1 <= len(prompt) <= 6000:
            return self._bad("prompt: 1 to 6000 characters")
        aspect = body.get("aspect_ratio", "16:9")
        if aspect not in ASPECTS:
            return self._bad(f"aspect_ratio: not valid for ray-3.2 ({', '.join(ASPECTS)})")
        video = body.get("video") or {}
        if not isinstance(video, dict):
            return self._bad("video: must be an object")
        unknown = set(video) - {"resolution", "duration", "start_frame", "end_frame", "loop",
                                "hdr", "exr_export", "keyframes", "keyframe_indexes"}  # fmt: skip
        if unknown:
            return self._bad(f"video: unknown field(s) {', '.join(sorted(unknown))}")
        resolution = video.get("resolution", "720p")
        duration = video.get("duration", "5s")
        if resolution not in RESOLUTIONS or duration not in DURATIONS:
            return self._bad("video.resolution: 540p|720p|1080p; video.duration: 5s|10s")
        frames = [k for k in ("start_frame", "end_frame") if k in video]
        if frames and duration != "5s":
            return self._bad("anchor frames are supported with 5s only", 422)
        for name in frames:
            bad = self._frame(f"video.{name}", video[name])
            if bad:
                return bad
        w, h = _dims(aspect, RESOLUTIONS[resolution])
        self.requests.append(body)
        job = self.new_job(
            str(uuid.uuid4()),
            "video",
            body,
            width=w,
            height=h,
            seconds=DURATIONS[duration],
            extra={"created_at": _now(), "model": body["model"],
                   "code": self.refuse_codes.pop(0) if self.refuse_codes else None},
        )  # fmt: skip
        return self._reply(201, self._generation(job))

    def _frame(self, where: str, ref: Any) -> Reply | None:
        if not isinstance(ref, dict):
            return self._bad(f"{where}: must be an ImageRef object")
        given = [k for k in ("url", "data", "generation_id") if ref.get(k)]
        if len(given) != 1:
            return self._bad(f"{where}: give exactly one of url, data or generation_id")
        if given[0] == "generation_id":
            gen = self.jobs.get(str(ref["generation_id"]))
            if gen is None or gen.state() != "done":
                return self._bad(f"{where}: no completed generation of this caller")
            return None
        if given[0] == "data":
            if not str(ref.get("media_type", "")).startswith("image/"):
                return self._bad(f"{where}.media_type: an image/* type is required")
            try:
                raw = base64.b64decode(str(ref["data"]), validate=True)
            except (binascii.Error, ValueError):
                return self._bad(f"{where}.data: not valid base64", 422)
        else:
            fetched = self.fetch_input(str(ref["url"]))
            if fetched is None:
                return self._bad(f"{where}.url: the image could not be fetched", 422)
            raw = fetched
        if not self._is_image(raw):
            return self._bad(f"{where}: the media could not be decoded", 422)
        return None

    def _is_image(self, raw: bytes) -> bool:
        from vfbuild.errors import MediaError
        from vfbuild.media.probe import probe

        path = self._media_dir / f"input-{uuid.uuid4().hex}"
        path.write_bytes(raw)
        try:
            return probe(path).is_image
        except MediaError:
            return False
        finally:
            path.unlink(missing_ok=True)

    # -- get --------------------------------------------------------------------------------

    def _generation(self, job: FakeJob) -> dict[str, Any]:
        state = STATE.get(job.state(), "failed")
        code = job.extra.get("code")
        if code and state == "completed":
            state = "failed"
        gen: dict[str, Any] = {
            "id": job.id,
            "created_at": job.extra["created_at"],
            "model": job.extra["model"],
            "state": state,
            "type": "video",
        }
        if state == "completed":
            gen["output"] = [{"type": "video", "url": self.media_url(job)}]
        elif state == "failed":
            gen["failure_code"] = code or "generation_failed"
            gen["failure_reason"] = (
                "The input was refused" if code else "Internal model error during generation"
            )
        return gen

    def get(self, req: Request) -> Reply:
        job = self.jobs.get(req.match["id"])
        if job is None:
            return self._bad("Generation not found", 404)
        return self._reply(200, self._generation(job))


def film_providers(fake: LumaAgentsFake, film_root: Path) -> dict[str, Any]:
    """The `providers:` of shots.yaml for a film made through this fake (video)."""
    return {"video": {"use": "luma-agents", "base_url": fake.url, "model": "ray-3.2"}}
