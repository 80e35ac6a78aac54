"""A fake Luma Dream Machine API (api.lumalabs.ai) for tests and film builds.

What it speaks, from Luma's published API (`/dream-machine/v1`):

- auth: `Authorization: Bearer <key>`; 401 `{"detail": "Invalid API key provided"}` otherwise.
- `POST /generations/video` (`model: ray-2 | ray-flash-2 | ray-1-6, prompt, aspect_ratio,
  duration: 5s | 9s, resolution: 540p | 720p | 1080p | 4k, loop, keyframes: {frame0, frame1}`
  each `{type: image, url}` or `{type: generation, id}`, `callback_url`) and `POST
  /generations/image` (`model: photon-1 | photon-flash-1, prompt, aspect_ratio, format,
  image_ref, style_ref, character_ref, modify_image_ref`); `POST /generations` takes either by
  `generation_type`. Paid; 201 with the generation. Bad fields: 422 with FastAPI's
  `{"detail": [{loc, msg, type}]}`; inputs that cannot be used: 400 `{"detail"}`.
- `GET /generations/{id}`: `{id, generation_type, state: queued | dreaming | completed |
  failed, failure_reason, created_at, assets: {video | image}, model, request}` (the request
  echoed as sent); 404 `{"detail"}` for unknown ids. `DELETE /generations/{id}`: 204.
- `GET /generations?limit=&offset=`: `{generations, has_more, count, limit, offset}`, newest
  first.
- `GET /credits`: `{credit_balance}`, less a notional price per generation.
- injected faults: 429/500/503 with `{"detail"}` bodies (429 and 503 with Retry-After).

Output: video at the resolution's height (540p: 540 px on the short side) and the aspect ratio,
for 5 or 9 seconds; images 1080 px on the short side at the aspect ratio, as PNG.
Image URLs are fetched, as Luma does (URLs on this machine only: `FakeServer.fetch_input`);
one that cannot be fetched is a 400. Where it is more lenient than Luma: image URLs may be
`data:` URIs, unless `data_uris` is False (as Luma's own API most likely has it).
"""

from __future__ import annotations

import base64
import binascii
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.fakes.base import FakeJob, FakeServer, Reply, Request

KEYS: dict[str, str] = {
    "LUMAAI_API_KEY": "luma-8c1f6a2e-47b9-4d0e-9a35-b6e2f0c4d817-test-3e9b7a51c0d24f68",
}
BASE = "/dream-machine/v1"
VIDEO_MODELS = ("ray-2", "ray-flash-2", "ray-1-6")
IMAGE_MODELS = ("photon-1", "photon-flash-1")
ASPECTS = ("1:1", "16:9", "9:16", "4:3", "3:4", "21:9", "9:21")
RESOLUTIONS = {"540p": 540, "720p": 720, "1080p": 1080, "4k": 2160}
DURATIONS = {"5s": 5.0, "9s": 9.0}
IMAGE_SHORT_SIDE = 1080
STATE = {
    "queued": "queued",
    "running": "dreaming",
    "done": "completed",
    "failed": "failed",
    "canceled": "failed",
}
# Notional credits per generation: enough to see the balance move, not Luma's price list.
CREDITS = {"image": 10.0, "video_second": 40.0}


class LumaFake(FakeServer):
    name = "luma"

    def __init__(
        self, *, key: str = KEYS["LUMAAI_API_KEY"], credits: float = 100_000.0, **kw: Any
    ) -> None:
        self.key = key
        self.credit_balance = credits
        self.deleted: set[str] = set()
        self._order: list[str] = []  # generation ids, oldest first
        self._gen_lock = threading.Lock()
        super().__init__(**kw)

    # -- dialect ----------------------------------------------------------------------------

    def setup_routes(self) -> None:
        self.route("POST", rf"{BASE}/generations/video", self.create_video, "create")
        self.route("POST", rf"{BASE}/generations/image", self.create_image, "create")
        self.route("POST", rf"{BASE}/generations", self.create_any, "create")
        self.route("GET", rf"{BASE}/generations", self.list)
        self.route("GET", rf"{BASE}/generations/(?P<id>[0-9a-f-]+)", self.get)
        self.route("DELETE", rf"{BASE}/generations/(?P<id>[0-9a-f-]+)", self.delete)
        self.route("GET", rf"{BASE}/credits", self.credits)

    def check_auth(self, req: Request) -> Reply | None:
        if req.headers.get("authorization") != f"Bearer {self.key}":
            return Reply(401, {"detail": "Invalid API key provided"})
        return None

    def error_reply(self, status: int) -> Reply:
        if status == 422:  # a refused input, in FastAPI's shape
            return self._invalid("keyframes.frame0", "the image shows a recognisable person")
        detail = {
            429: "Too many requests, please slow down",
            500: "Internal server error",
            503: "Service temporarily unavailable",
        }.get(status, "Internal server error")
        return Reply(status, {"detail": detail})

    def _invalid(self, loc: str, msg: str, kind: str = "value_error") -> Reply:
        return Reply(
            422, {"detail": [{"loc": ["body", *loc.split(".")], "msg": msg, "type": kind}]}
        )

    # -- creates ----------------------------------------------------------------------------

    def create_any(self, req: Request) -> Reply:
        body = _json_object(req)
        if body is None:
            return self._invalid("body", "Input should be a valid dictionary", "dict_type")
        if body.get("generation_type", "video") == "image":
            return self._image(body)
        return self._video(body)

    def create_video(self, req: Request) -> Reply:
        body = _json_object(req)
        if body is None:
            return self._invalid("body", "Input should be a valid dictionary", "dict_type")
        return self._video(body)

    def create_image(self, req: Request) -> Reply:
        body = _json_object(req)
        if body is None:
            return self._invalid("body", "Input should be a valid dictionary", "dict_type")
        return self._image(body)

    def _common(self, body: dict[str, Any], models: tuple[str, ...]) -> Reply | None:
        if body.get("model") not in models:
            return self._invalid("model", f"Input should be {' or '.join(map(repr, models))}")
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            return self._invalid("prompt", "Field required", "missing")
        if body.get("aspect_ratio", "16:9") not in ASPECTS:
            return self._invalid("aspect_ratio", f"Input should be one of {', '.join(ASPECTS)}")
        return None

    def _video(self, body: dict[str, Any]) -> Reply:
        bad = self._common(body, VIDEO_MODELS)
        if bad:
            return bad
        if body.get("generation_type", "video") != "video":
            return self._invalid("generation_type", "Input should be 'video'")
        duration = body.get("duration", "5s")
        if duration not in DURATIONS:
            return self._invalid("duration", "Input should be '5s' or '9s'")
        resolution = body.get("resolution", "720p")
        if resolution not in RESOLUTIONS:
            return self._invalid("resolution", "Input should be '540p', '720p', '1080p' or '4k'")
        keyframes = body.get("keyframes") or {}
        if not isinstance(keyframes, dict) or set(keyframes) - {"frame0", "frame1"}:
            return self._invalid("keyframes", "Only frame0 and frame1 may be given")
        for name, frame in keyframes.items():
            bad = self._keyframe(name, frame)
            if bad:
                return bad
        w, h = _dims(body.get("aspect_ratio", "16:9"), RESOLUTIONS[resolution])
        seconds = DURATIONS[duration]
        return self._accept(
            "video",
            body,
            width=w,
            height=h,
            seconds=seconds,
            price=seconds * CREDITS["video_second"],
        )

    def _keyframe(self, name: str, frame: Any) -> Reply | None:
        if not isinstance(frame, dict):
            return self._invalid(f"keyframes.{name}", "Input should be a valid dictionary")
        if frame.get("type") == "generation":
            gen = self.jobs.get(str(frame.get("id")))
            if gen is None or gen.state() != "done" or gen.kind != "video":
                return Reply(400, {"detail": f"keyframes.{name}: no completed video generation"})
            return None
        if frame.get("type") != "image":
            return self._invalid(
                f"keyframes.{name}.type", "Input should be 'image' or 'generation'"
            )
        return self._image_url(f"keyframes.{name}.url", frame.get("url"))

    def _image(self, body: dict[str, Any]) -> Reply:
        bad = self._common(body, IMAGE_MODELS)
        if bad:
            return bad
        if body.get("generation_type", "image") != "image":
            return self._invalid("generation_type", "Input should be 'image'")
        if body.get("format", "jpg") not in ("jpg", "png"):
            return self._invalid("format", "Input should be 'jpg' or 'png'")
        refs = body.get("image_ref") or []
        if not isinstance(refs, list) or len(refs) > 4:
            return self._invalid("image_ref", "List should have at most 4 items")
        for i, ref in enumerate(refs):
            if not isinstance(ref, dict):
                return self._invalid(f"image_ref.{i}", "Input should be a valid dictionary")
            bad = self._image_url(f"image_ref.{i}.url", ref.get("url"))
            if bad:
                return bad
            weight = ref.get("weight", 0.85)
            if not isinstance(weight, (int, float)) or not 0 <= weight <= 1:
                return self._invalid(f"image_ref.{i}.weight", "Input should be from 0 to 1")
        w, h = _dims(body.get("aspect_ratio", "16:9"), IMAGE_SHORT_SIDE)
        return self._accept("image", body, width=w, height=h, seconds=1.0, price=CREDITS["image"])

    def _image_url(self, where: str, url: Any) -> Reply | None:
        if not isinstance(url, str) or not url:
            return self._invalid(where, "Field required", "missing")
        if url.startswith(self.cdn_url + "/files/"):
            return None  # one of this fake's own results
        if url.startswith("data:") and self.data_uris:
            head, sep, payload = url.partition(",")
            if not sep or not head.endswith(";base64") or not head[5:].startswith("image/"):
                return Reply(400, {"detail": f"{where}: not a base64 image data URI"})
            try:
                raw = base64.b64decode(payload, validate=True)
            except (binascii.Error, ValueError):
                return Reply(400, {"detail": f"{where}: not valid base64"})
        else:
            fetched = None if url.startswith("data:") else self.fetch_input(url)
            if fetched is None:
                return Reply(400, {"detail": f"{where}: failed to download the image"})
            raw = fetched
        if not self._is_image(raw):
            return Reply(400, {"detail": f"{where}: the image could not be decoded"})
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

    def _accept(
        self,
        kind: str,
        body: dict[str, Any],
        *,
        width: int,
        height: int,
        seconds: float,
        price: float,
    ) -> Reply:
        request = {"generation_type": kind, **body}
        with self._gen_lock:
            job = self.new_job(
                str(uuid.uuid4()),
                kind,
                request,
                width=width,
                height=height,
                seconds=seconds,
                extra={"created_at": _now(), "model": body["model"]},
            )
            self._order.append(job.id)
            self.credit_balance -= price
        return Reply(201, self._generation(job))

    # -- queries ----------------------------------------------------------------------------

    def _generation(self, job: FakeJob) -> dict[str, Any]:
        state = STATE[job.state()]
        gen: dict[str, Any] = {
            "id": job.id,
            "generation_type": job.kind,
            "state": state,
            "failure_reason": None,
            "created_at": job.extra["created_at"],
            "assets": None,
            "model": job.extra["model"],
            "request": job.input,
        }
        if state == "completed":
            gen["assets"] = {job.kind: self.media_url(job)}
        elif state == "failed":
            gen["failure_reason"] = "The generation failed: the model could not complete it"
        return gen

    def get(self, req: Request) -> Reply:
        job = self.jobs.get(req.match["id"])
        if job is None or job.id in self.deleted:
            return Reply(404, {"detail": "Generation not found"})
        return Reply(200, self._generation(job))

    def list(self, req: Request) -> Reply:
        try:
            limit = int(req.query.get("limit", "100"))
            offset = int(req.query.get("offset", "0"))
        except ValueError:
            return self._invalid("query.limit", "Input should be a valid integer", "int_parsing")
        if not 1 <= limit <= 1000 or offset < 0:
            return self._invalid("query.limit", "limit must be 1 to 1000, offset at least 0")
        with self._gen_lock:
            ids = [i for i in reversed(self._order) if i not in self.deleted]
        page = [self._generation(self.jobs[i]) for i in ids[offset : offset + limit]]
        return Reply(
            200,
            {
                "generations": page,
                "has_more": offset + limit < len(ids),
                "count": len(page),
                "limit": limit,
                "offset": offset,
            },
        )

    def delete(self, req: Request) -> Reply:
        job = self.jobs.get(req.match["id"])
        if job is None or job.id in self.deleted:
            return Reply(404, {"detail": "Generation not found"})
        self.deleted.add(job.id)
        return Reply(204)

    def credits(self, req: Request) -> Reply:
        return Reply(200, {"credit_balance": round(self.credit_balance, 2)})


def _dims(aspect: str, short: int) -> tuple[int, int]:
    a, b = (int(x) for x in aspect.split(":"))
    if a >= b:
        return 2 * round(short * a / b / 2), short
    return short, 2 * round(short * b / a / 2)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _json_object(req: Request) -> dict[str, Any] | None:
    try:
        body = req.json()
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def film_providers(fake: LumaFake, film_root: Path) -> dict[str, Any]:
    """The `providers:` of shots.yaml for a film made through this fake (keyframes, video)."""
    return {
        "keyframe": {"use": "luma", "base_url": fake.url},
        "video": {
            "use": "luma",
            "base_url": fake.url,
            "draft": {"model": "ray-flash-2"},
            "final": {"model": "ray-2"},
        },
    }
