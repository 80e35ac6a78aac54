"""A fake Replicate API (api.replicate.com/v1), from Replicate's published HTTP API.

Endpoints:
- `POST /v1/models/{owner}/{name}/predictions` `{input}` and `POST /v1/predictions`
  `{version, input}` → 201 and the prediction (paid jobs; route kind "create"). `Prefer:
  wait[=N]` holds the reply until the prediction finishes or N seconds pass (at most 60), then
  returns it as it is;
- `GET /v1/predictions/{id}` → the prediction `{id, model, version, input, logs, output,
  data_removed, error, status, created_at, started_at, completed_at, urls: {get, cancel, web},
  metrics}`; status starting → processing (logs with a tqdm bar) → succeeded, failed or
  canceled; `output` is a URL (a list of URLs for the FLUX dev/schnell models) on the CDN;
- `POST /v1/predictions/{id}/cancel` → the prediction, canceled;
- `GET /v1/predictions[?cursor=…]` → `{next, previous, results}`, newest first,
  `page_size` per page (100 as Replicate; tests make it small to page).

Errors are RFC 7807 problem details (`{type, title, status, detail}`, content type
application/problem+json): 401 without a valid `Authorization: Bearer` (or the older `Token`)
key, 404 for an unknown version, 422 with `invalid_fields` for a bad input, 429 `Request was
throttled. Expected available in N seconds.` with `Retry-After`. Inputs are validated per kind
of model (text-to-image, image-to-video, video upscale, lip-sync, told apart by the model
name); file inputs must be `data:` URIs (the fake cannot download from the internet).
`expire(id)` deletes a prediction's output as Replicate does after an hour (`data_removed`).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.fakes.base import FakeJob, FakeServer, Reply, Request
from tests.fakes.fal import even, image_size, is_audio, video_info

KEYS: dict[str, str] = {"REPLICATE_API_TOKEN": "r8_test7Qm2Kx9Vb4Nc6Lp1Zs8Dw3Fh5Jt0Gy2Re7Ua"}

PROBLEM = "application/problem+json"
T2I_RATIOS = ("1:1", "16:9", "3:2", "2:3", "4:5", "5:4", "9:16", "3:4", "4:3", "custom")
RATIO_SIZES = {"1:1": (1024, 1024), "16:9": (1344, 768), "9:16": (768, 1344), "4:3": (1184, 880)}
RESOLUTIONS = {"720p": 720, "1080p": 1080, "4k": 2160}
SYNC_MODES = ("loop", "bounce", "cut_off", "silence", "remap")
_WAIT = re.compile(r"wait(?:=(\d+))?")


def problem(status: int, title: str, detail: str, **more: Any) -> Reply:
    body = {
        "type": "https://replicate.com/docs/reference/http#errors",
        "title": title,
        "status": status,
        "detail": detail,
        **more,
    }
    return Reply(status, body, content_type=PROBLEM)


# Image-to-video models whose inputs differ from Wan's (`image`, whole seconds), from their
# schemas at replicate.com/<owner>/<name>/api: first-frame field, last-frame field (None: the
# model has none), the durations it takes, and the setting the last frame needs (Kling 2.1:
# `end_image` in pro mode only). Written from the pages, not from vfbuild's table.
I2V_SCHEMAS: dict[str, tuple[str, str | None, tuple[int, ...], dict[str, str]]] = {
    "kwaivgi/kling-v2.1": ("start_image", "end_image", (5, 10), {"mode": "pro"}),
    "kwaivgi/kling-v2.6": ("start_image", None, (5, 10), {}),
    "google/veo-3.1": ("image", "last_frame", (4, 6, 8), {}),
    "google/veo-3.1-fast": ("image", "last_frame", (4, 6, 8), {}),
    "bytedance/seedance-1-pro": ("image", "last_frame_image", tuple(range(2, 13)), {}),
    "bytedance/seedance-1-lite": ("image", "last_frame_image", tuple(range(2, 13)), {}),
    "minimax/hailuo-02": ("first_frame_image", "last_frame_image", (6, 10), {}),
}


def model_kind(name: str) -> str:
    """Which kind of model an `owner/name` is: t2i, i2v, upscale or lipsync."""
    n = name.lower()
    if n in I2V_SCHEMAS:
        return "i2v"
    if "lipsync" in n or "lip-sync" in n:
        return "lipsync"
    if "upscale" in n:
        return "upscale"
    if "i2v" in n or "image-to-video" in n or "video" in n:
        return "i2v"
    return "t2i"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ReplicateFake(FakeServer):
    name = "replicate"

    def __init__(self, *, key: str | None = None, page_size: int = 100, **kw: Any) -> None:
        self.key = key or KEYS["REPLICATE_API_TOKEN"]
        self.page_size = page_size
        self.versions: dict[str, str] = {}  # version id → owner/name
        # Models a test says do not exist: Replicate answers 404 for an unknown owner/name
        # (the fake otherwise takes any name and infers its kind from it).
        self.missing_models: set[str] = set()
        self.order: list[str] = []  # prediction ids, oldest first
        super().__init__(**kw)

    def setup_routes(self) -> None:
        self.route(
            "POST",
            r"/v1/models/(?P<owner>[^/]+)/(?P<name>[^/]+)/predictions",
            self.create,
            "create",
        )
        self.route("POST", r"/v1/predictions", self.create, "create")
        self.route("GET", r"/v1/predictions", self.list)
        self.route("GET", r"/v1/predictions/(?P<id>[^/]+)", self.get)
        self.route("POST", r"/v1/predictions/(?P<id>[^/]+)/cancel", self.cancel)

    def version_of(self, model: str) -> str:
        """The (fake) id of a model's current version: what `owner/name:version` pins."""
        version = hashlib.sha256(f"version:{model}".encode()).hexdigest()
        self.versions[version] = model
        return version

    def expire(self, prediction_id: str) -> None:
        """Delete a prediction's output, as Replicate does an hour after it finished."""
        self.jobs[prediction_id].extra["data_removed"] = True

    # -- the dialect ------------------------------------------------------------------------

    def check_auth(self, req: Request) -> Reply | None:
        got = req.headers.get("authorization")
        if got in (f"Bearer {self.key}", f"Token {self.key}"):
            return None
        detail = (
            "You did not pass an authentication token"
            if got is None
            else "You did not pass a valid authentication token"
        )
        return problem(401, "Unauthenticated", detail)

    def error_reply(self, status: int) -> Reply:
        if status == 429:
            wait = self.faults.retry_after
            return problem(
                429,
                "Request was throttled",
                f"Request was throttled. Expected available in {wait} second.",
            )
        if status == 503:
            return problem(503, "Service Unavailable", "Replicate is temporarily unavailable.")
        if status == 422:  # a refused input: Seedance's answer to a recognisable face
            return problem(422, "Input validation failed", "- image: the image shows a real person")
        return problem(status, "Internal Server Error", "Something went wrong on our end.")

    # -- predictions ------------------------------------------------------------------------

    def prediction(self, job: FakeJob) -> dict[str, Any]:
        st = job.state()
        status = {
            "queued": "starting",
            "running": "processing",
            "done": "succeeded",
            "failed": "failed",
            "canceled": "canceled",
        }[st]
        x = job.extra
        pred: dict[str, Any] = {
            "id": job.id,
            "model": x["model"],
            "version": x["version"],
            "input": job.input,
            "logs": "",
            "output": None,
            "data_removed": False,
            "error": None,
            "status": status,
            "source": "api",
            "created_at": x["created_at"],
            "started_at": None,
            "completed_at": None,
            "urls": {
                "get": f"{self.url}/v1/predictions/{job.id}",
                "cancel": f"{self.url}/v1/predictions/{job.id}/cancel",
                "web": f"https://replicate.com/p/{job.id}",
            },
            "metrics": {},
        }
        if st != "queued":
            pred["started_at"] = x["created_at"]
            bar = "#" * int(job.progress() * 10)
            pred["logs"] = f"Generating…\n{int(job.progress() * 100):3d}%|{bar:<10}|"
        if st in ("done", "failed", "canceled"):
            pred["completed_at"] = _now()
            pred["metrics"] = {"predict_time": job.latency, "total_time": job.latency}
        if st == "done":
            if x.get("data_removed"):
                pred["data_removed"] = True
            else:
                url = self.media_url(job)
                pred["output"] = [url] if x.get("list_output") else url
        elif st == "failed":
            pred["error"] = "CUDA out of memory. Tried to allocate 2.00 GiB"
            pred["logs"] += "\nTraceback (most recent call last): … torch.OutOfMemoryError"
        return pred

    def create(self, req: Request) -> Reply:
        try:
            body = req.json()
        except ValueError:
            return problem(400, "Bad request", "The request body is not valid JSON.")
        if not isinstance(body, dict):
            return problem(400, "Bad request", "The request body must be a JSON object.")
        if "owner" in req.match:
            model, version = f"{req.match['owner']}/{req.match['name']}", None
            if model in self.missing_models:
                return problem(404, "Not found", "The requested resource could not be found.")
        else:
            v = body.get("version")
            if not isinstance(v, str) or not v:
                return self._invalid([("version", "required", "version is required")])
            name, _, vid = v.rpartition(":")
            vid = vid or v
            model = self.versions.get(vid) or (name if name else None)
            if model is None:
                return problem(
                    422,
                    "Invalid version",
                    "The specified version does not exist "
                    "(or perhaps you don't have permission to use it?)",
                )
            version = vid
        inp = body.get("input")
        if not isinstance(inp, dict):
            return self._invalid([("input", "required", "input is required")])
        errors, spec = self.validate(model, inp)
        if errors:
            return self._invalid(errors)
        pid = base64.b32encode(os.urandom(16)).decode().lower().rstrip("=")[:26]
        kind = "image" if spec["kind"] == "t2i" else "video"
        name = model.split("/", 1)[1]
        job = self.new_job(
            pid,
            kind,
            inp,
            width=spec["width"],
            height=spec["height"],
            seconds=spec["seconds"],
            seed=spec["seed"],
            extra={
                "model": model,
                "version": version or self.version_of(model),
                "created_at": _now(),
                "list_output": name in ("flux-dev", "flux-schnell"),
                "audio": self.keep_input(spec["audio"], ".audio") if "audio" in spec else None,
            },
        )
        with self._lock:
            self.order.append(pid)
        wait = _WAIT.search(req.headers.get("prefer", ""))
        if wait:
            deadline = time.monotonic() + min(60, int(wait.group(1) or 60))
            while job.state() in ("queued", "running") and time.monotonic() < deadline:
                time.sleep(0.01)
        return Reply(201, self.prediction(job))

    def _invalid(self, errors: list[tuple[str, str, str]]) -> Reply:
        return problem(
            422,
            "Input validation failed",
            "\n".join(f"- {field}: {desc}" for field, _, desc in errors),
            invalid_fields=[{"type": t, "field": f, "description": d} for f, t, d in errors],
        )

    def validate(self, model: str, inp: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        """The invalid fields of an input (field, type, description), and what it will make."""
        kind = model_kind(model)
        errs: list[tuple[str, str, str]] = []
        spec: dict[str, Any] = {"kind": kind, "width": 64, "height": 64, "seconds": 1.0}
        spec["seed"] = 0  # none given: `new_job` gives the job bytes of its own
        flux = "flux" in model.lower()

        def integer(field: str, lo: int, hi: int) -> int | None:
            v = inp.get(field)
            if v is None:
                return None
            if not isinstance(v, int) or isinstance(v, bool):
                errs.append(
                    (
                        f"input.{field}",
                        "type",
                        f"Invalid type. Expected: integer, given: {type(v).__name__}",
                    )
                )
                return None
            if not lo <= v <= hi:
                errs.append((f"input.{field}", "number_one_of", f"Must be between {lo} and {hi}"))
                return None
            return v

        def required_text(field: str) -> None:
            v = inp.get(field)
            if v is None:
                errs.append(("input", "required", f"{field} is required"))
            elif not isinstance(v, str):
                errs.append((f"input.{field}", "type", "Invalid type. Expected: string"))

        def file(field: str, required: bool = True) -> bytes | None:
            if field not in inp:
                if required:
                    errs.append(("input", "required", f"{field} is required"))
                return None
            data = self.read_input(inp[field])
            if data is None:
                errs.append((f"input.{field}", "format", "Does not match format 'uri'"))
            return data

        seed = integer("seed", -(2**31), 2**32)
        if seed is not None:
            spec["seed"] = seed
        if kind == "t2i":
            required_text("prompt")
            ratio = inp.get("aspect_ratio", "1:1")
            if ratio not in T2I_RATIOS:
                errs.append(("input.aspect_ratio", "enum", f"Must be one of {T2I_RATIOS}"))
            hi = 1440 if flux else 4096
            w, h = integer("width", 1, hi), integer("height", 1, hi)
            if ratio == "custom" or not flux:
                spec["width"], spec["height"] = w or 1024, h or 1024
            else:
                spec["width"], spec["height"] = RATIO_SIZES.get(str(ratio), (1024, 1024))
            if inp.get("output_format", "webp") not in ("webp", "jpg", "png"):
                errs.append(("input.output_format", "enum", "Must be one of webp, jpg, png"))
            data = file("image_prompt", required=False)
            if data is not None and image_size(data) is None:
                errs.append(("input.image_prompt", "format", "Cannot read the image"))
        elif kind == "i2v":
            required_text("prompt")
            first, last, durations, needs = I2V_SCHEMAS.get(model.lower(), ("image", None, (), {}))
            data = file(first)
            size = image_size(data) if data is not None else None
            if data is not None and size is None:
                errs.append((f"input.{first}", "format", "Cannot read the image"))
            if size:
                spec["width"], spec["height"] = size
            for other in ("image", "start_image", "first_frame_image"):
                if other != first and other in inp:
                    errs.append((f"input.{other}", "additional_properties", "Not allowed"))
            if last is not None and last in inp:
                end = file(last)
                if end is not None and image_size(end) is None:
                    errs.append((f"input.{last}", "format", "Cannot read the image"))
                for k, v in needs.items():
                    if inp.get(k) != v:
                        errs.append((f"input.{last}", "dependency", f"needs {k}: {v}"))
            for other in ("end_image", "last_frame", "last_frame_image"):
                if other != last and other in inp:
                    errs.append((f"input.{other}", "additional_properties", "Not allowed"))
            if durations:
                d = inp.get("duration", durations[0])
                if d not in durations:
                    errs.append(("input.duration", "enum", f"Must be one of {durations}"))
                else:
                    spec["seconds"] = float(d)
            elif "wan" in model.lower():
                frames = integer("num_frames", 81, 100) or 81
                fps = integer("frames_per_second", 5, 24) or 16
                spec["seconds"] = round(frames / fps, 2)
            else:
                spec["seconds"] = float(integer("duration", 1, 20) or 5)
            neg = inp.get("negative_prompt")
            if neg is not None and not isinstance(neg, str):
                errs.append(("input.negative_prompt", "type", "Invalid type. Expected: string"))
        else:
            data = file("video")
            info = video_info(data) if data is not None else None
            if data is not None and info is None:
                errs.append(("input.video", "format", "Cannot read the video"))
            if info:
                spec["width"], spec["height"], spec["seconds"] = info
            if kind == "upscale":
                res = inp.get("target_resolution", "1080p")
                if res not in RESOLUTIONS:
                    errs.append(
                        ("input.target_resolution", "enum", "Must be one of 720p, 1080p, 4k")
                    )
                elif info:
                    spec["height"] = RESOLUTIONS[res]
                    spec["width"] = even(info[0] * RESOLUTIONS[res] / info[1])
            else:
                audio = file("audio")
                if audio is not None and not is_audio(audio):
                    errs.append(("input.audio", "format", "Cannot read the audio"))
                elif audio is not None:
                    spec["audio"] = audio  # muxed into the result, as a lip-sync model does
                if inp.get("sync_mode", "loop") not in SYNC_MODES:
                    errs.append(("input.sync_mode", "enum", f"Must be one of {SYNC_MODES}"))
        return errs, spec

    def get(self, req: Request) -> Reply:
        job = self.jobs.get(req.match["id"])
        if job is None:
            return problem(404, "Not found", "The requested resource could not be found.")
        return Reply(200, self.prediction(job))

    def cancel(self, req: Request) -> Reply:
        job = self.jobs.get(req.match["id"])
        if job is None:
            return problem(404, "Not found", "The requested resource could not be found.")
        if job.state() in ("queued", "running"):
            job.canceled = True
        return Reply(200, self.prediction(job))

    def list(self, req: Request) -> Reply:
        with self._lock:
            ids = list(reversed(self.order))
        try:
            start = int(base64.urlsafe_b64decode(req.query.get("cursor", "") + "==") or 0)
        except ValueError:
            return problem(400, "Bad request", "Invalid cursor.")
        page = ids[start : start + self.page_size]

        def link(offset: int) -> str:
            cursor = base64.urlsafe_b64encode(str(offset).encode()).decode().rstrip("=")
            return f"{self.url}/v1/predictions?cursor={cursor}"

        more = start + self.page_size < len(ids)
        return Reply(
            200,
            {
                "next": link(start + self.page_size) if more else None,
                "previous": link(max(0, start - self.page_size)) if start > 0 else None,
                "results": [self.prediction(self.jobs[i]) for i in page],
            },
        )


def film_providers(fake: FakeServer, film_root: Path) -> dict[str, Any]:
    """shots.yaml `providers:` that make every step on Replicate (the catalog's models)."""
    return {
        "keyframe": {"use": "replicate", "base_url": fake.url},
        "video": {
            "use": "replicate",
            "base_url": fake.url,
            "draft": {"sample_steps": 20},
            "final": {"sample_steps": 30},
        },
        "upscale": {"use": "replicate", "base_url": fake.url},
        "lipsync": {"use": "replicate", "base_url": fake.url, "final": {"sync_mode": "cut_off"}},
    }
