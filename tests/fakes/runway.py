"""A fake Runway API (api.dev.runwayml.com) for tests and film builds.

What it speaks, from Runway's published API (version 2024-11-06):

- auth: `Authorization: Bearer <key>` (401 `{"error"}` otherwise) and `X-Runway-Version:
  2024-11-06` on every request (400 `{"error"}` without it).
- `POST /v1/image_to_video` (`model, promptImage, promptText, ratio, duration, seed,
  contentModeration`) and `POST /v1/video_upscale` (`model: upscale_v1, videoUri`): paid,
  200 `{id}`; 400 `{"error": "Validation of body failed", "issues": [{path, message}]}`.
- `GET /v1/tasks/{id}`: `{id, status, createdAt, progress?, output?, failure?, failureCode?}`,
  status PENDING (THROTTLED while `throttled` is set) → RUNNING (with `progress`) → SUCCEEDED
  (`output: [url]`) or FAILED; CANCELLED after a DELETE. `DELETE /v1/tasks/{id}`: 204 (a
  running task is cancelled, a finished one deleted). 404 `{"error"}` for unknown ids.
- `POST /v1/uploads` (`{filename, type: ephemeral}`) → `{uploadUrl, fields, runwayUri}`; the
  form POST to `uploadUrl` lands on the CDN origin (as real uploads go to storage, not the
  API), and the `runway://` URI is then accepted as an input.
- assets: `data:` URIs (media type required, under 5 MiB, must decode as that media), or
  `runway://` URIs of finished uploads; `https://` URLs cannot be fetched from here (400), and
  plain `http://` is refused as Runway refuses it.
- injected faults: 429/500/503 with Runway's `{"error"}` bodies (429 and 503 with Retry-After).

Output: image-to-video renders at the requested ratio's size (1280:720 is 1280x720) for the
requested 5 or 10 seconds; upscale_v1 makes the input 4x larger, at most 4096 px a side.
`strict_media=True` adds Runway's documented image limits (aspect 0.5-2, sides under 8000 px).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import threading
import uuid
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path
from typing import Any

from tests.fakes.base import FakeServer, Reply, Request

KEYS: dict[str, str] = {
    # Runway keys are `key_` and 128 hex digits.
    "RUNWAYML_API_SECRET": "key_" + hashlib.sha512(b"vfbuild runway fake test key").hexdigest(),
}
API_VERSION = "2024-11-06"
RATIOS: dict[str, tuple[str, ...]] = {
    "gen4_turbo": ("1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672"),
    "gen4.5": ("1280:720", "720:1280", "1104:832", "960:960", "832:1104", "1584:672"),
    "gen3a_turbo": ("1280:768", "768:1280"),
}
DATA_URI_LIMIT = 5 * 1024 * 1024
IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp")
VIDEO_TYPES = ("video/mp4", "video/quicktime", "video/webm")
STATUS = {
    "queued": "PENDING",
    "running": "RUNNING",
    "done": "SUCCEEDED",
    "failed": "FAILED",
    "canceled": "CANCELLED",
}


class RunwayFake(FakeServer):
    name = "runway"

    def __init__(
        self,
        *,
        key: str = KEYS["RUNWAYML_API_SECRET"],
        strict_media: bool = False,
        upscale_max_side: int = 4096,
        **kw: Any,
    ) -> None:
        self.key = key
        self.strict_media = strict_media
        # Runway's cap on an upscale's long side. A test that needs no 4K clips may lower it:
        # encoding them is most of the time a film build through this fake takes.
        self.upscale_max_side = upscale_max_side
        self.throttled = False  # queued tasks report THROTTLED instead of PENDING
        self.uploads: dict[str, dict[str, Any]] = {}  # token -> {filename, fields, path}
        self.deleted: set[str] = set()
        self._uploads_lock = threading.Lock()
        super().__init__(**kw)

    # -- dialect ----------------------------------------------------------------------------

    def setup_routes(self) -> None:
        self.route("POST", r"/v1/image_to_video", self.image_to_video, "create")
        self.route("POST", r"/v1/video_upscale", self.video_upscale, "create")
        self.route("POST", r"/v1/uploads", self.create_upload)
        self.route("GET", r"/v1/tasks/(?P<id>[^/]+)", self.get_task)
        self.route("DELETE", r"/v1/tasks/(?P<id>[^/]+)", self.delete_task)

    def check_auth(self, req: Request) -> Reply | None:
        if req.headers.get("authorization") != f"Bearer {self.key}":
            return Reply(401, {"error": "Incorrect or missing API key"})
        if req.headers.get("x-runway-version") != API_VERSION:
            return Reply(
                400,
                {
                    "error": "You must provide a valid API version in the X-Runway-Version "
                    f"header (the current version is {API_VERSION})"
                },
            )
        return None

    def error_reply(self, status: int) -> Reply:
        message = {
            429: "You have exceeded the rate limit for this endpoint",
            500: "An unexpected error occurred",
            503: "The service is temporarily overloaded; please retry",
        }.get(status, "An unexpected error occurred")
        return Reply(status, {"error": message})

    def _invalid(self, path: str, message: str) -> Reply:
        return Reply(
            400,
            {
                "error": "Validation of body failed",
                "issues": [{"path": path.split("."), "message": message}],
            },
        )

    # -- creates ----------------------------------------------------------------------------

    def image_to_video(self, req: Request) -> Reply:
        body = _json_object(req)
        if body is None:
            return Reply(400, {"error": "The request body must be a JSON object"})
        model = body.get("model")
        if model not in RATIOS:
            return self._invalid("model", f"Invalid enum value. Expected {sorted(RATIOS)}")
        image = body.get("promptImage")
        if isinstance(image, list):
            firsts = [i for i in image if isinstance(i, dict) and i.get("position") == "first"]
            image = firsts[0].get("uri") if firsts else None
        asset = self._asset(image, "promptImage", IMAGE_TYPES)
        if isinstance(asset, Reply):
            return asset
        if self.strict_media:
            w, h = asset["width"], asset["height"]
            if not 0.5 <= w / h <= 2.0 or max(w, h) >= 8000:
                return Reply(400, {"error": "promptImage: aspect ratio must be 0.5 to 2.0"})
        text = body.get("promptText")
        if text is not None and (
            not isinstance(text, str) or not 1 <= len(text.encode("utf-16-le")) // 2 <= 1000
        ):
            return self._invalid("promptText", "String must contain 1 to 1000 character(s)")
        ratio = body.get("ratio")
        if ratio not in RATIOS[model]:
            return self._invalid("ratio", f"Invalid enum value. Expected {list(RATIOS[model])}")
        duration = body.get("duration", 10)
        if duration not in (5, 10) or isinstance(duration, bool):
            return self._invalid("duration", "Invalid literal value, expected 5 or 10")
        seed = body.get("seed", secrets.randbelow(2**32))
        if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**32:
            return self._invalid("seed", "Number must be an integer from 0 to 4294967295")
        w, h = (int(x) for x in ratio.split(":"))
        return self._accept(body, width=w, height=h, seconds=float(duration))

    def video_upscale(self, req: Request) -> Reply:
        body = _json_object(req)
        if body is None:
            return Reply(400, {"error": "The request body must be a JSON object"})
        if body.get("model") != "upscale_v1":
            return self._invalid("model", 'Invalid literal value, expected "upscale_v1"')
        asset = self._asset(body.get("videoUri"), "videoUri", VIDEO_TYPES)
        if isinstance(asset, Reply):
            return asset
        w, h, seconds = asset["width"], asset["height"], asset["duration"]
        if max(w, h) >= 4096:
            return Reply(400, {"error": "videoUri: the video must be under 4096px on each side"})
        if seconds > 40:
            return Reply(400, {"error": "videoUri: the video may not exceed 40 seconds"})
        scale = min(4.0, self.upscale_max_side / max(w, h))
        return self._accept(
            body,
            width=2 * round(w * scale / 2),
            height=2 * round(h * scale / 2),
            seconds=round(seconds, 2),
        )

    def _accept(self, body: dict[str, Any], *, width: int, height: int, seconds: float) -> Reply:
        summary = {k: v for k, v in body.items() if k not in ("promptImage", "videoUri")}
        job = self.new_job(
            str(uuid.uuid4()),
            "video",
            summary,
            width=width,
            height=height,
            seconds=seconds,
            extra={"created_at": _now()},
        )
        return Reply(200, {"id": job.id})

    def _asset(self, uri: Any, field: str, types: tuple[str, ...]) -> dict[str, Any] | Reply:
        """What an input URI holds (width, height, duration), or Runway's 400."""
        if not isinstance(uri, str) or not uri:
            return self._invalid(field, "Required")
        if uri.startswith("runway://"):
            token = uri.removeprefix("runway://").split("/")[0]
            with self._uploads_lock:
                upload = self.uploads.get(token)
            if upload is None or "path" not in upload:
                return Reply(400, {"error": f"{field}: the upload does not exist or expired"})
            raw = Path(upload["path"]).read_bytes()
        elif uri.startswith("data:"):
            if len(uri) >= DATA_URI_LIMIT:
                return Reply(400, {"error": f"{field}: data URIs must be under 5MB"})
            head, sep, payload = uri.partition(",")
            mime = head.removeprefix("data:").split(";")[0]
            if not sep or not head.endswith(";base64"):
                return Reply(400, {"error": f"{field}: Invalid data URI."})
            if mime not in types:
                return Reply(400, {"error": f"{field}: Unsupported asset type ({mime or '?'})."})
            try:
                raw = base64.b64decode(payload, validate=True)
            except (binascii.Error, ValueError):
                return Reply(400, {"error": f"{field}: Invalid data URI."})
        elif uri.startswith("http://"):
            return Reply(400, {"error": f"{field}: Only HTTPS URLs are allowed."})
        elif uri.startswith("https://"):
            return Reply(400, {"error": f"{field}: Failed to fetch asset."})
        else:
            return Reply(400, {"error": f"{field}: Invalid URL."})
        info = self._probe(raw)
        want_video = types == VIDEO_TYPES
        if info is None or (want_video and (info.is_image or not info.has_video)):
            return Reply(400, {"error": f"{field}: the asset could not be decoded."})
        if not want_video and not info.is_image:
            return Reply(400, {"error": f"{field}: the asset is not an image."})
        return {"width": info.width, "height": info.height, "duration": info.duration or 0.0}

    def _probe(self, raw: bytes) -> Any:
        from vfbuild.errors import MediaError
        from vfbuild.media.probe import probe

        path = self._media_dir / f"input-{uuid.uuid4().hex}"
        path.write_bytes(raw)
        try:
            return probe(path)
        except MediaError:
            return None
        finally:
            path.unlink(missing_ok=True)

    # -- uploads ----------------------------------------------------------------------------

    def create_upload(self, req: Request) -> Reply:
        body = _json_object(req)
        if body is None or not isinstance(body.get("filename"), str) or not body["filename"]:
            return self._invalid("filename", "Required")
        if body.get("type") != "ephemeral":
            return self._invalid("type", 'Invalid literal value, expected "ephemeral"')
        token = uuid.uuid4().hex
        fields = {"key": f"uploads/{token}/{body['filename']}", "policy": secrets.token_hex(16)}
        with self._uploads_lock:
            self.uploads[token] = {"filename": body["filename"], "fields": fields}
        return Reply(
            200,
            {
                "uploadUrl": f"{self.cdn_url}/uploads/{token}",
                "fields": fields,
                "runwayUri": f"runway://{token}/{body['filename']}",
            },
        )

    def _cdn_reply(self, req: Request) -> Reply:
        if req.method != "POST":
            return super()._cdn_reply(req)
        if "authorization" in req.headers:
            self.cdn_auth_seen.append(req.headers["authorization"])
        token = req.path.removeprefix("/uploads/")
        with self._uploads_lock:
            upload = self.uploads.get(token)
        if upload is None:
            return Reply(403, body=b"<Error><Code>AccessDenied</Code></Error>",
                         content_type="application/xml")  # fmt: skip
        form = _form(req)
        if form is None or "file" not in form:
            return Reply(400, body=b"<Error><Code>MalformedPOSTRequest</Code></Error>",
                         content_type="application/xml")  # fmt: skip
        if any(form.get(k) != v.encode() for k, v in upload["fields"].items()):
            return Reply(403, body=b"<Error><Code>AccessDenied</Code></Error>",
                         content_type="application/xml")  # fmt: skip
        path = self._media_dir / f"upload-{token}"
        path.write_bytes(form["file"])
        with self._uploads_lock:
            upload["path"] = str(path)
        return Reply(204)

    # -- tasks ------------------------------------------------------------------------------

    def get_task(self, req: Request) -> Reply:
        job = self.jobs.get(req.match["id"])
        if job is None or job.id in self.deleted:
            return Reply(404, {"error": "Task not found"})
        status = STATUS[job.state()]
        if status == "PENDING" and self.throttled:
            status = "THROTTLED"
        task: dict[str, Any] = {
            "id": job.id,
            "status": status,
            "createdAt": job.extra["created_at"],
        }
        if status == "RUNNING":
            task["progress"] = round(job.progress(), 3)
        elif status == "SUCCEEDED":
            task["output"] = [self.media_url(job)]
        elif status == "FAILED":
            task["failure"] = "An unexpected error occurred while generating the video."
            task["failureCode"] = "INTERNAL.BAD_OUTPUT.CODE01"
        return Reply(200, task)

    def delete_task(self, req: Request) -> Reply:
        job = self.jobs.get(req.match["id"])
        if job is None or job.id in self.deleted:
            return Reply(404, {"error": "Task not found"})
        if job.state() in ("queued", "running"):
            job.canceled = True
        else:
            self.deleted.add(job.id)
        return Reply(204)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _json_object(req: Request) -> dict[str, Any] | None:
    try:
        body = req.json()
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def _form(req: Request) -> dict[str, bytes] | None:
    """The fields of a multipart/form-data body, by name."""
    ctype = req.headers.get("content-type", "")
    if not ctype.startswith("multipart/form-data"):
        return None
    msg = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {ctype}\r\n\r\n".encode() + req.body)
    if not msg.is_multipart():
        return None
    out: dict[str, bytes] = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            out[name] = part.get_payload(decode=True) or b""
    return out


def film_providers(fake: RunwayFake, film_root: Path) -> dict[str, Any]:
    """The `providers:` of shots.yaml for a film made through this fake (video and upscale)."""
    return {
        "video": {"use": "runway", "base_url": fake.url},
        "upscale": {"use": "runway", "base_url": fake.url},
    }
