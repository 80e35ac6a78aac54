"""A fake fal.ai queue (queue.fal.run), from fal's published Queue API.

Endpoints:
- `POST /{owner}/{app}[/{path}]` with the model input → 200 `{status: IN_QUEUE, request_id,
  response_url, status_url, cancel_url, queue_position}` (a paid job; route kind "create");
- `GET /{owner}/{app}/requests/{id}/status[?logs=1]` → 202 `{status: IN_QUEUE,
  queue_position}`, 202 `{status: IN_PROGRESS, logs}`, 200 `{status: COMPLETED, logs,
  metrics}`; a failed request is COMPLETED with `error` and `error_type`;
- `GET /{owner}/{app}/requests/{id}/status/stream[?logs=1]` → the same status objects as
  server-sent events (`data: {…}`), one per change, a `: ping` comment every
  `keepalive` seconds (15 at fal), closed after the COMPLETED event;
- `GET /{owner}/{app}/requests/{id}` → the model output (`images: [{url, content_type, width,
  height}], seed` or `video: {url, content_type, file_name}`), 400 while the request runs,
  the model's error (422 `{detail: [{loc, msg, type, url}]}`) for a failed one;
- `PUT /{owner}/{app}/requests/{id}/cancel` → 202 CANCELLATION_REQUESTED, 400
  ALREADY_COMPLETED, 404 NOT_FOUND;
- fal's storage (rest.fal.ai, served here too): `POST /storage/upload/initiate` → `{upload_url,
  file_url}`; the PUT and the file live on the CDN origin (see `FakeServer.issue_upload`).

Status, result and cancel live under owner/app only: a client that puts the endpoint's
sub-path there gets a 404, as from fal. Auth is `Authorization: Key <FAL_KEY>` (401 `{detail}`
otherwise). Inputs are validated per kind of model (text-to-image, image-to-video, video
upscale, lip-sync, told apart by the model id) and refused with 422 `{detail: [{loc, msg,
type}]}`; file inputs are `data:` URIs or URLs on this machine (`read_input`).
Injected 503/504 carry `{detail, error_type}` and `X-Fal-Error-Type`, as fal's request errors.
Results download from the CDN origin, like fal's media hosts; a lip-sync's carries the audio
it was given. `override_result(kind, mode)` (kinds: t2i, i2v, upscale, lipsync) makes a job
succeed with media that is not what was asked (see `FakeServer.override_result`).
"""

from __future__ import annotations

import io
import json
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.fakes.base import FakeJob, FakeServer, Reply, Request

KEYS: dict[str, str] = {
    "FAL_KEY": "fal-test-4f1c9a7e-2b8d-4c1e-9f3a-6d5e8b7a1c2f:8e3b9d2f7a614c5b9e0d1f2a3b4c5d6e"
}

IMAGE_SIZES = {
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}
SYNC_MODES = ("cut_off", "loop", "bounce", "silence", "remap")

# Image-to-video models whose input schema differs from Kling 2.1's (image_url, "5"/"10"), as
# their pages at fal.ai/models/<id>/llms.txt publish it: first-frame field (required),
# last-frame field (optional; None: the model has none and refuses one), allowed durations.
# Written from the pages, not from vfbuild's table, so that the two can disagree.
I2V_SCHEMAS: dict[str, tuple[str, str | None, tuple[str, ...]]] = {
    "fal-ai/kling-video/v2.1/pro/image-to-video": ("image_url", "tail_image_url", ("5", "10")),
    "fal-ai/kling-video/v2.5-turbo/pro/image-to-video": (
        "image_url",
        "tail_image_url",
        ("5", "10"),
    ),
    "fal-ai/kling-video/v2.6/pro/image-to-video": ("start_image_url", None, ("5", "10")),
    "fal-ai/kling-video/v3/standard/image-to-video": (
        "start_image_url",
        "end_image_url",
        tuple(str(n) for n in range(3, 16)),
    ),
    "fal-ai/kling-video/v3/pro/image-to-video": (
        "start_image_url",
        "end_image_url",
        tuple(str(n) for n in range(3, 16)),
    ),
    "fal-ai/veo3.1/first-last-frame-to-video": (
        "first_frame_url",
        "last_frame_url",
        ("4s", "6s", "8s"),
    ),
    "fal-ai/veo3.1/fast/first-last-frame-to-video": (
        "first_frame_url",
        "last_frame_url",
        ("4s", "6s", "8s"),
    ),
    "fal-ai/veo3.1/image-to-video": ("image_url", None, ("4s", "6s", "8s")),
    "fal-ai/bytedance/seedance/v1/pro/image-to-video": (
        "image_url",
        "end_image_url",
        tuple(str(n) for n in range(2, 13)),
    ),
    "bytedance/seedance-2.0/image-to-video": (
        "image_url",
        "end_image_url",
        tuple(str(n) for n in range(4, 16)),
    ),
    "fal-ai/minimax/hailuo-02/standard/image-to-video": ("image_url", "end_image_url", ("6", "10")),
}
# Veo's first-last model needs both frames (its page marks last_frame_url required).
BOTH_FRAMES = frozenset(
    {"fal-ai/veo3.1/first-last-frame-to-video", "fal-ai/veo3.1/fast/first-last-frame-to-video"}
)


# -- input files (shared with the Replicate fake) ---------------------------------------------


def image_size(data: bytes) -> tuple[int, int] | None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            return int(im.width), int(im.height)
    except (UnidentifiedImageError, OSError, ValueError):
        return None


def video_info(data: bytes) -> tuple[int, int, float] | None:
    """(width, height, seconds) of a video, or None if it is not one."""
    from vfbuild.errors import MediaError
    from vfbuild.media.probe import probe

    with tempfile.TemporaryDirectory(prefix="fake-in-") as d:
        path = Path(d) / "in.mp4"
        path.write_bytes(data)
        try:
            info = probe(path)
        except MediaError:
            return None
    if not info.has_video or info.is_image or not info.width or not info.height:
        return None
    return info.width, info.height, float(info.duration or 1.0)


def is_audio(data: bytes) -> bool:
    from vfbuild.errors import MediaError
    from vfbuild.media.probe import probe

    with tempfile.TemporaryDirectory(prefix="fake-in-") as d:
        path = Path(d) / "in.bin"
        path.write_bytes(data)
        try:
            return probe(path).has_audio
        except MediaError:
            return False


def even(n: float) -> int:
    return max(2, int(round(n / 2)) * 2)


# -- the fake ---------------------------------------------------------------------------------


def model_kind(model: str) -> str:
    """Which kind of fal endpoint a model id names: t2i, i2v, upscale or lipsync."""
    m = model.lower()
    if "lipsync" in m or "lip-sync" in m:
        return "lipsync"
    if "upscale" in m:
        return "upscale"
    if "image-to-video" in m or "-video/" in m or m.endswith("-video"):
        return "i2v"
    return "t2i"


def _err(field: str, msg: str, kind: str) -> dict[str, Any]:
    return {
        "loc": ["body", field],
        "msg": msg,
        "type": kind,
        "url": f"https://docs.fal.ai/errors#{kind}",
    }


def _missing(field: str) -> dict[str, Any]:
    return {"loc": ["body", field], "msg": "Field required", "type": "missing"}


class FalFake(FakeServer):
    name = "fal"

    def __init__(self, *, key: str | None = None, keepalive: float = 15.0, **kw: Any) -> None:
        self.key = key or KEYS["FAL_KEY"]
        self.keepalive = keepalive  # seconds between `: ping` comments on a status stream
        self.lifecycles: list[str | None] = []  # X-Fal-Object-Lifecycle-Preference of uploads
        self.streams = 0  # status streams opened
        # Models that refuse every input deterministically, as Seedance refuses an image with a
        # recognisable face: 422 with a content-policy detail, no job made, nothing billed.
        self.refuse_models: set[str] = set()
        self.refused = 0
        super().__init__(**kw)

    def setup_routes(self) -> None:
        seg = r"[^/]+"
        base = rf"/(?P<owner>{seg})/(?P<app>{seg})/requests/(?P<id>{seg})"
        self.route("GET", base + "/status", self.status)
        self.route("GET", base + "/status/stream", self.status_stream)
        self.route("GET", base, self.result)
        self.route("PUT", base + "/cancel", self.cancel)
        # fal's storage (rest.fal.ai): before the model route, which would take it for a model.
        self.route("POST", r"/storage/upload/initiate", self.upload_initiate)
        self.route(
            "POST", rf"/(?P<owner>{seg})/(?P<app>{seg})(?P<path>(/{seg})*)", self.submit, "create"
        )

    # -- storage (rest.fal.ai) --------------------------------------------------------------

    def upload_initiate(self, req: Request) -> Reply:
        """`POST /storage/upload/initiate?storage_type=fal-cdn-v3` `{file_name, content_type}`
        → `{upload_url, file_url}`: PUT the bytes (with that content type) to the first, and
        the file is public at the second."""
        if req.query.get("storage_type", "fal-cdn-v3") != "fal-cdn-v3":
            return Reply(422, {"detail": [_err("storage_type", "Unknown storage", "enum")]})
        try:
            body = req.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return Reply(422, {"detail": [_missing("file_name")]})
        missing = [f for f in ("file_name", "content_type") if not isinstance(body.get(f), str)]
        if missing:
            return Reply(422, {"detail": [_missing(f) for f in missing]})
        self.lifecycles.append(req.headers.get("x-fal-object-lifecycle-preference"))
        upload_url, file_url = self.issue_upload(body["file_name"], body["content_type"])
        return Reply(200, {"upload_url": upload_url, "file_url": file_url})

    # -- the dialect ------------------------------------------------------------------------

    def check_auth(self, req: Request) -> Reply | None:
        got = req.headers.get("authorization")
        if got == f"Key {self.key}":
            return None
        app = f"{req.match.get('owner')}/{req.match.get('app')}"
        if got is None:
            detail = f"Cannot access application '{app}'. Authentication is required."
        else:
            detail = "Invalid authentication credentials: the key was not recognised."
        return Reply(401, {"detail": detail})

    def error_reply(self, status: int) -> Reply:
        if status in (503, 504):
            kind, detail = {
                503: (
                    "runner_scheduling_failure",
                    "No runner could be allocated to handle the request.",
                ),
                504: ("request_timeout", "Request timed out"),
            }[status]
            return Reply(
                status, {"detail": detail, "error_type": kind}, headers={"X-Fal-Error-Type": kind}
            )
        if status == 429:
            return Reply(429, {"detail": "Too many concurrent requests for this key."})
        if status == 422:  # a model refusing its input: Seedance's answer to a known face
            return Reply(
                422,
                {
                    "detail": [
                        _err(
                            "image_url",
                            "The image contains a recognisable real person's face.",
                            "content_policy_violation",
                        )
                    ]
                },
            )
        return Reply(status, {"detail": "Internal Server Error"})

    def _urls(self, app: str, rid: str) -> dict[str, str]:
        base = f"{self.url}/{app}/requests/{rid}"
        return {
            "request_id": rid,
            "response_url": base,
            "status_url": base + "/status",
            "cancel_url": base + "/cancel",
        }

    def _job(self, req: Request) -> FakeJob | None:
        job = self.jobs.get(req.match["id"])
        if job is None or job.extra["app"] != f"{req.match['owner']}/{req.match['app']}":
            return None
        return job

    # -- routes -----------------------------------------------------------------------------

    def submit(self, req: Request) -> Reply:
        app = f"{req.match['owner']}/{req.match['app']}"
        model = app + req.match.get("path", "")
        try:
            body = req.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return Reply(
                422,
                {
                    "detail": [
                        _err("body", "Input should be a JSON object", "model_attributes_type")
                    ]
                },
            )
        if model in self.refuse_models:
            self.refused += 1
            detail = {
                "loc": ["body", "image_url"],
                "msg": "The input image contains a recognisable face, which this model refuses",
                "type": "content_policy_violation",
            }
            return Reply(422, {"detail": [detail]})
        errors, spec = self.validate(model, body)
        if errors:
            return Reply(422, {"detail": errors})
        rid = str(uuid.uuid4())
        kind = "image" if spec["kind"] == "t2i" else "video"
        job: dict[str, Any] = {
            "width": spec["width"],
            "height": spec["height"],
            "seconds": spec["seconds"],
            "seed": spec["seed"],
            "extra": {"app": app, "model": model, "kind": spec["kind"]},
        }
        if "audio" in spec:  # a lip-sync carries its audio (unless an override drops it)
            job["extra"]["audio"] = self.keep_input(spec["audio"], ".audio")
        mode = self.spoil(spec["kind"], job)
        if mode is not None:
            self.overridden[rid] = mode
        self.new_job(rid, job.pop("kind", kind), body, **job)
        queued = sum(1 for j in list(self.jobs.values()) if j.state() == "queued") - 1
        return Reply(
            200, {"status": "IN_QUEUE", **self._urls(app, rid), "queue_position": max(0, queued)}
        )

    def validate(self, model: str, body: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        """fal's 422 details for a bad input, and what the job will make."""
        kind = model_kind(model)
        errors: list[Any] = []
        spec: dict[str, Any] = {"kind": kind, "width": 64, "height": 64, "seconds": 1.0}
        spec["seed"] = 0  # none given: `new_job` gives the job bytes of its own
        prompt = body.get("prompt")
        if kind in ("t2i", "i2v"):
            if prompt is None:
                errors.append(_missing("prompt"))
            elif not isinstance(prompt, str) or not prompt.strip():
                errors.append(_err("prompt", "Input should be a non-empty string", "string_type"))
        if kind == "t2i":
            size = body.get("image_size", "landscape_4_3")
            if isinstance(size, str) and size in IMAGE_SIZES:
                spec["width"], spec["height"] = IMAGE_SIZES[size]
            elif (
                isinstance(size, dict)
                and all(isinstance(size.get(k), int) for k in ("width", "height"))
                and all(0 < size[k] <= 14142 for k in ("width", "height"))
            ):
                spec["width"], spec["height"] = size["width"], size["height"]
            else:
                errors.append(
                    _err(
                        "image_size",
                        "Input should be one of the image size names "
                        "or {width, height} up to 14142",
                        "value_error",
                    )
                )
            n = body.get("num_images", 1)
            if not isinstance(n, int) or not 1 <= n <= 4:
                errors.append(
                    _err("num_images", "Input should be between 1 and 4", "less_than_equal")
                )
            if body.get("output_format", "jpeg") not in ("jpeg", "png"):
                errors.append(
                    _err("output_format", "Input should be 'jpeg' or 'png'", "literal_error")
                )
            seed = body.get("seed")
            if seed is not None and not isinstance(seed, int):
                errors.append(_err("seed", "Input should be a valid integer", "int_type"))
            elif seed is not None:
                spec["seed"] = seed
            if "image_url" in body:
                self._image(body, "image_url", errors)
        elif kind == "i2v":
            first, last, durations = I2V_SCHEMAS.get(model, ("image_url", None, ("5", "10")))
            size = self._image(body, first, errors)
            if size:
                spec["width"], spec["height"] = size
            for other in ("image_url", "start_image_url", "first_frame_url"):
                if other != first and other in body:  # a field of another model's schema
                    errors.append(_err(other, "Extra inputs are not permitted", "extra_forbidden"))
            if last is not None and (last in body or model in BOTH_FRAMES):
                end = self._image(body, last, errors)
                if end and size and end != size:
                    errors.append(
                        _err(last, "The last frame must have the first frame's size", "value_error")
                    )
            for other in ("tail_image_url", "end_image_url", "last_frame_url"):
                if other != last and other in body:
                    errors.append(_err(other, "Extra inputs are not permitted", "extra_forbidden"))
            duration = body.get("duration", durations[0])
            if duration not in durations:
                allowed = ", ".join(f"'{d}'" for d in durations)
                errors.append(_err("duration", f"Input should be {allowed}", "literal_error"))
            else:
                spec["seconds"] = float(str(duration).rstrip("s"))
            cfg = body.get("cfg_scale", 0.5)
            if not isinstance(cfg, (int, float)) or not 0 <= cfg <= 1:
                errors.append(
                    _err("cfg_scale", "Input should be between 0 and 1", "less_than_equal")
                )
            neg = body.get("negative_prompt")
            if neg is not None and not isinstance(neg, str):
                errors.append(_err("negative_prompt", "Input should be a string", "string_type"))
        elif kind in ("upscale", "lipsync"):
            info = self._video(body, "video_url", errors)
            if info:
                spec["width"], spec["height"], spec["seconds"] = info
            if kind == "upscale":
                f = body.get("upscale_factor", 2)
                if not isinstance(f, (int, float)) or not 1 <= f <= 4:
                    errors.append(
                        _err("upscale_factor", "Input should be between 1 and 4", "less_than_equal")
                    )
                elif info:
                    spec["width"], spec["height"] = even(info[0] * f), even(info[1] * f)
            else:
                audio = self._audio(body, "audio_url", errors)
                if audio is not None:
                    spec["audio"] = audio
                if body.get("sync_mode", "cut_off") not in SYNC_MODES:
                    errors.append(
                        _err("sync_mode", f"Input should be one of {SYNC_MODES}", "literal_error")
                    )
        return errors, spec

    def _file(self, body: dict[str, Any], field: str, errors: list[Any]) -> bytes | None:
        if field not in body:
            errors.append(_missing(field))
            return None
        data = self.read_input(body[field])
        if data is None:
            errors.append(
                _err(
                    field,
                    "Failed to download the file. Please check if the URL is accessible.",
                    "file_download_error",
                )
            )
        return data

    def _image(self, body: dict[str, Any], field: str, errors: list[Any]) -> tuple[int, int] | None:
        data = self._file(body, field, errors)
        size = image_size(data) if data is not None else None
        if data is not None and size is None:
            errors.append(
                _err(
                    field,
                    "Failed to load the image. Please ensure the image file "
                    "is not corrupted and is in a supported format.",
                    "image_load_error",
                )
            )
        return size

    def _video(self, body: dict[str, Any], field: str, errors: list[Any]) -> Any:
        data = self._file(body, field, errors)
        info = video_info(data) if data is not None else None
        if data is not None and info is None:
            errors.append(
                _err(
                    field,
                    "Failed to load the video. Please ensure the video file "
                    "is not corrupted and is in a supported format.",
                    "video_load_error",
                )
            )
        return info

    def _audio(self, body: dict[str, Any], field: str, errors: list[Any]) -> bytes | None:
        data = self._file(body, field, errors)
        if data is not None and not is_audio(data):
            errors.append(_err(field, "Failed to load the audio file.", "audio_load_error"))
            return None
        return data

    def status(self, req: Request) -> Reply:
        job = self._job(req)
        if job is None:
            return Reply(404, {"detail": "Request not found"})
        out = self._status_of(job, logs=req.query.get("logs") in ("1", "true"))
        return Reply(200 if out["status"] == "COMPLETED" else 202, out)

    def status_stream(self, req: Request) -> Reply:
        job = self._job(req)
        if job is None:
            return Reply(404, {"detail": "Request not found"})
        logs = req.query.get("logs") in ("1", "true")
        with self._lock:
            self.streams += 1

        def events() -> Iterator[bytes]:
            last, quiet = None, time.monotonic()
            while True:
                out = self._status_of(job, logs=logs)
                now = time.monotonic()
                if out["status"] != last:
                    yield f"data: {json.dumps(out)}\n\n".encode()
                    last, quiet = out["status"], now
                    if last == "COMPLETED":
                        return
                elif now - quiet >= self.keepalive:
                    yield b": ping\n\n"
                    quiet = now
                # Wake at the job's next change of state (or to notice a cancel).
                age = now - job.created
                change = next((t for t in (job.latency * 0.2, job.latency) if t > age), age)
                time.sleep(min(change - age + 0.001, 0.05, self.keepalive))

        return Reply(200, stream=events(), content_type="text/event-stream")

    def _status_of(self, job: FakeJob, *, logs: bool) -> dict[str, Any]:
        st = job.state()
        out: dict[str, Any] = {**self._urls(job.extra["app"], job.id)}
        log = None
        if logs:
            log = [
                {
                    "message": f"{int(job.progress() * 100)}% done",
                    "level": "INFO",
                    "source": "user",
                    "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S"),
                }
            ]
        if st == "queued":
            ahead = sum(
                1
                for j in list(self.jobs.values())
                if j.state() == "queued" and j.created < job.created
            )
            return {"status": "IN_QUEUE", **out, "queue_position": ahead}
        if st == "running":
            return {"status": "IN_PROGRESS", **out, "logs": log}
        out |= {"status": "COMPLETED", "logs": log, "metrics": {"inference_time": job.latency}}
        if st == "failed":
            out |= {
                "error": "The content could not be processed because it contained material "
                "flagged by a content checker.",
                "error_type": "content_policy_violation",
            }
        elif st == "canceled":
            out |= {"error": "Request was cancelled", "error_type": "request_cancelled"}
        return out

    def result(self, req: Request) -> Reply:
        job = self._job(req)
        if job is None:
            return Reply(404, {"detail": "Request not found"})
        st = job.state()
        if st in ("queued", "running"):
            return Reply(400, {"detail": "Request is still in progress"})
        if st == "failed":
            return Reply(
                422,
                {
                    "detail": [
                        _err(
                            "prompt",
                            "The content could not be processed "
                            "because it contained material flagged by a content checker.",
                            "content_policy_violation",
                        )
                    ]
                },
            )
        if st == "canceled":
            return Reply(400, {"detail": "Request was cancelled"})
        url = self.media_url(job)
        if job.kind == "image":
            return Reply(
                200,
                {
                    "images": [
                        {
                            "url": url,
                            "content_type": "image/png",
                            "width": job.width,
                            "height": job.height,
                        }
                    ],
                    "seed": job.seed,
                    "has_nsfw_concepts": [False],
                    "prompt": job.input.get("prompt"),
                    "timings": {"inference": job.latency},
                },
            )
        return Reply(
            200, {"video": {"url": url, "content_type": "video/mp4", "file_name": f"{job.id}.mp4"}}
        )

    def cancel(self, req: Request) -> Reply:
        job = self._job(req)
        if job is None:
            return Reply(404, {"status": "NOT_FOUND"})
        if job.state() in ("done", "failed", "canceled"):
            return Reply(400, {"status": "ALREADY_COMPLETED"})
        job.canceled = True
        return Reply(202, {"status": "CANCELLATION_REQUESTED"})


def film_providers(fake: FakeServer, film_root: Path) -> dict[str, Any]:
    """shots.yaml `providers:` that make every step on fal (the catalog's default models)."""
    return {
        "keyframe": {"use": "fal", "base_url": fake.url},
        "video": {
            "use": "fal",
            "base_url": fake.url,
            "draft": {"cfg_scale": 0.5},
            "final": {"cfg_scale": 0.6},
        },
        "upscale": {"use": "fal", "base_url": fake.url},
        "lipsync": {"use": "fal", "base_url": fake.url, "final": {"sync_mode": "cut_off"}},
    }
