"""A fake Kling API (api-singapore.klingai.com) for tests and film builds.

What it speaks, from Kling's published API:

- auth: `Authorization: Bearer <API key>` (the single key Kling issues now), or the older
  `Bearer <JWT>`, HS256-signed with the secret key, `iss` the access key, `exp`/`nbf` checked
  with no leeway. 401 with service codes 1001 (no header), 1002 (not a valid token: bad
  signature, algorithm, claims), 1000 (unknown access key), 1003 (not yet valid), 1004
  (expired).
- models: kling-v1 … kling-v2-6 make 5 s or 10 s (`duration` "5"/"10"), kling-v3 any of
  "3" … "15". `image_tail` (the last frame) is taken by kling-v1 and kling-v3 in either mode,
  by kling-v1-5 … kling-v2-6 in pro mode only, by the masters not at all (400, code 1201).
  `refuse_content` answers every create with 400 code 1301 (the content security policy).
- advanced lip-sync: `POST /v1/videos/identify-face` (`video_url | video_id`) answers at once
  with `{session_id, face_data: [{face_id, face_image, start_time, end_time}]}` (ms; an empty
  list with `no_face`); `POST /v1/videos/advanced-lip-sync` (`session_id, face_choose:
  [{face_id, sound_file | audio_id, sound_start_time, sound_end_time, sound_insert_time,
  sound_volume, original_audio_volume}], external_task_id`) is the paid task, followed at
  `GET /v1/videos/advanced-lip-sync/{id}`. The sound's span must lie within the audio and,
  inserted, within the face's span (400, code 1201).
- `POST /v1/videos/image2video` (`model_name, image, image_tail, prompt, negative_prompt,
  cfg_scale, mode, duration, external_task_id, callback_url, camera_control`) and
  `POST /v1/videos/lip-sync` (`{input: {video_url | video_id, mode, audio_type, audio_file |
  audio_url, text, voice_id, ...}, external_task_id}`): paid, 200 with the envelope
  `{code: 0, message, request_id, data: {task_id, task_status, task_info, created_at,
  updated_at}}`; 400 code 1201 for a bad parameter (and a reused external_task_id).
- `GET /v1/videos/{image2video|lip-sync}/{task_id | external_task_id}`: the task, status
  submitted → processing → succeed (`task_result.videos[{id, url, duration}]`) or failed
  (`task_status_msg`); 404 code 1203 for an unknown id. `GET /v1/videos/{kind}` lists tasks.
- injected faults: 429 code 1302 (rate limit, with Retry-After), 500 code 5000, 503 code 5001;
  `account_code` makes every create answer 429 with 1100-1102 (account problems).

Media limits: every input must decode as the media it claims to be, within Kling's byte limits
(image 10MB, audio 5MB). Kling's documented sizes and lengths (image at least 300 px a side and
between 1:2.5 and 2.5:1; lip-sync clip 2-10 s and 512-2160 px a side; audio 2-60 s) are checked
only with `strict_media=True`: the thumbnail-sized films of the end-to-end tests fall outside
them (a 1 s shot, a 360 px delivery), where a real film would not.

Output: image2video makes a 5 s or 10 s clip, 720p (std) or 1080p (pro) at the input image's
aspect ratio; lip-sync returns the input clip's size and length with the audio muxed in.
URLs (`image`, `video_url`) are fetched as Kling does, from this machine only
(`FakeServer.fetch_input`); one that cannot be fetched is a 400. Where this fake is more
lenient than Kling: `video_url` may be a `data:` URI, unless `data_uris` is False.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from tests.fakes.base import FakeJob, FakeServer, Reply, Request

KEYS: dict[str, str] = {
    "KLING_ACCESS_KEY": "kling-test-ak-7d2e91c4b08f4a6e9b3c5d1f2a8e6c40",
    "KLING_SECRET_KEY": "kling-test-sk-3f9a0b7c1e5d4c2a8b6e9f0d7c3a1b5e8d2f4a6c",
}

API_KEY = "kling-test-apikey-6b1d0e9c2f7a4e83a5c4d2b1f0e9a8c7"  # KLING_API_KEY

MODELS = frozenset(
    {
        "kling-v1",
        "kling-v1-5",
        "kling-v1-6",
        "kling-v2-master",
        "kling-v2-1",
        "kling-v2-1-master",
        "kling-v2-5-turbo",
        "kling-v2-6",
        "kling-v3",
    }
)
DURATIONS = {"kling-v3": tuple(str(n) for n in range(3, 16))}
TAIL_ANY_MODE = frozenset({"kling-v1", "kling-v3"})
TAIL_PRO = frozenset({"kling-v1-5", "kling-v1-6", "kling-v2-1", "kling-v2-5-turbo", "kling-v2-6"})
STATUS = {
    "queued": "submitted",
    "running": "processing",
    "done": "succeed",
    "failed": "failed",
    "canceled": "failed",
}
MAX_IMAGE = 10 * 1024 * 1024
MAX_AUDIO = 5 * 1024 * 1024
MAX_PROMPT = 2500


class KlingFake(FakeServer):
    name = "kling"

    def __init__(
        self,
        *,
        access_key: str = KEYS["KLING_ACCESS_KEY"],
        secret_key: str = KEYS["KLING_SECRET_KEY"],
        strict_media: bool = False,
        **kw: Any,
    ) -> None:
        self.access_key = access_key
        self.strict_media = strict_media
        self.secret_key = secret_key
        self.account_code: int | None = None  # 1100-1102: every create is refused with it
        self.api_key = API_KEY
        self.refuse_content = False  # every create: 400, code 1301 (content security policy)
        self.no_face = False  # identify-face finds no face
        self.api_keys_seen = 0  # requests authorised by the API key (not a JWT)
        self.sessions: dict[str, dict[str, Any]] = {}  # identify-face session_id -> the clip
        self.tokens_seen: set[str] = set()
        self._external: dict[str, str] = {}  # external_task_id -> task_id
        self._ids = itertools.count(int(time.time() * 1000) % 10**12 * 10**6)
        self._inputs_lock = threading.Lock()
        super().__init__(**kw)

    # -- dialect ----------------------------------------------------------------------------

    def setup_routes(self) -> None:
        self.route("POST", r"/v1/videos/image2video", self.create_i2v, "create")
        self.route("POST", r"/v1/videos/lip-sync", self.create_lipsync, "create")
        self.route("POST", r"/v1/videos/identify-face", self.identify_face)
        self.route("POST", r"/v1/videos/advanced-lip-sync", self.create_advanced, "create")
        kinds = "image2video|lip-sync|advanced-lip-sync"
        self.route("GET", rf"/v1/videos/(?P<kind>{kinds})/(?P<id>[^/]+)", self.get)
        self.route("GET", rf"/v1/videos/(?P<kind>{kinds})", self.list)

    def check_auth(self, req: Request) -> Reply | None:
        import jwt

        header = req.headers.get("authorization")
        if not header:
            return self._auth_error(1001, "Authorization is empty")
        scheme, _, token = header.partition(" ")
        if scheme != "Bearer" or not token:
            return self._auth_error(1002, "Authorization is invalid")
        if token == self.api_key:
            with self._lock:
                self.api_keys_seen += 1
            return None
        try:
            if jwt.get_unverified_header(token).get("alg") != "HS256":
                return self._auth_error(1002, "Authorization is invalid")
            claims = jwt.decode(
                token,
                self.secret_key,
                algorithms=["HS256"],
                options={"require": ["iss", "exp", "nbf"]},
                leeway=0,
            )
        except jwt.ExpiredSignatureError:
            return self._auth_error(1004, "Authorization has expired")
        except jwt.ImmatureSignatureError:
            return self._auth_error(1003, "Authorization is not yet valid")
        except jwt.PyJWTError:
            return self._auth_error(1002, "Authorization is invalid")
        if claims.get("iss") != self.access_key:
            return self._auth_error(1000, "Authentication failed")
        with self._lock:
            self.tokens_seen.add(token)
        return None

    def error_reply(self, status: int) -> Reply:
        code, message = {
            429: (1302, "API request too fast, please slow down"),
            500: (5000, "Server internal error"),
            503: (5001, "Server temporarily unavailable, usually due to maintenance"),
        }.get(status, (5000, "Server internal error"))
        return Reply(status, self._envelope(None, code, message))

    def _envelope(self, data: Any, code: int = 0, message: str = "SUCCEED") -> dict[str, Any]:
        return {"code": code, "message": message, "request_id": str(uuid.uuid4()), "data": data}

    def _auth_error(self, code: int, message: str) -> Reply:
        return Reply(401, self._envelope(None, code, message))

    def _bad(self, message: str, code: int = 1201) -> Reply:
        return Reply(400, self._envelope(None, code, message))

    # -- creates ----------------------------------------------------------------------------

    def _refuse_account(self) -> Reply | None:
        if self.account_code is None:
            return None
        messages = {
            1100: "Account exception",
            1101: "Account in arrears (postpaid scenario)",
            1102: "Resource pack depleted or expired (prepaid scenario)",
        }
        return Reply(429, self._envelope(None, self.account_code, messages[self.account_code]))

    def create_i2v(self, req: Request) -> Reply:
        refused = self._refuse_account()
        if refused:
            return refused
        body = _json_object(req)
        if body is None:
            return self._bad("request body is not a JSON object", 1200)
        model = body.get("model_name", "kling-v1")
        if model not in MODELS:
            return self._bad(f"model_name: unknown model {model!r}")
        if self.refuse_content:
            return self._bad("Trigger the content security policy of the platform", 1301)
        mode = body.get("mode", "std")
        if mode not in ("std", "pro"):
            return self._bad("mode: must be std or pro")
        durations = DURATIONS.get(model, ("5", "10"))
        duration = body.get("duration", "5")
        if duration not in durations:
            return self._bad(f"duration: must be one of the strings {', '.join(durations)}")
        if body.get("image_tail"):
            if model not in TAIL_ANY_MODE | TAIL_PRO:
                return self._bad(f"image_tail: not supported by {model}")
            if model in TAIL_PRO and mode != "pro":
                return self._bad(f"image_tail: {model} supports it in pro mode only")
        cfg = body.get("cfg_scale", 0.5)
        if not isinstance(cfg, (int, float)) or not 0 <= cfg <= 1:
            return self._bad("cfg_scale: must be a number from 0 to 1")
        for field in ("prompt", "negative_prompt"):
            value = body.get(field, "")
            if not isinstance(value, str) or len(value) > MAX_PROMPT:
                return self._bad(f"{field}: must be a string of at most {MAX_PROMPT} characters")
        if not body.get("image") and not body.get("image_tail"):
            return self._bad("image: image and image_tail cannot both be empty")
        size = None
        for field in ("image", "image_tail"):
            if body.get(field):
                got = self._image(field, body[field])
                if isinstance(got, Reply):
                    return got
                size = size or got
        assert size is not None
        ext = body.get("external_task_id")
        short = 720 if mode == "std" else 1080
        w, h = _fit(size, short)
        tail = _b64(body["image_tail"]) if body.get("image_tail") else None
        return self._accept(
            "image2video",
            ext,
            body,
            width=w,
            height=h,
            seconds=float(duration),
            audio=None,
            tail=hashlib.sha256(tail).hexdigest() if tail else None,
        )

    def _image(self, field: str, value: Any) -> tuple[int, int] | Reply:
        if not isinstance(value, str):
            return self._bad(f"{field}: must be a string")
        if value.startswith("data:"):
            return self._bad(f"{field}: base64 must not carry a data: prefix")
        if value.startswith(("http://", "https://")):
            raw = self.fetch_input(value)
            if raw is None:
                return self._bad(f"{field}: the image URL could not be fetched")
        else:
            raw = _b64(value)
        if raw is None:
            return self._bad(f"{field}: not valid base64")
        if len(raw) > MAX_IMAGE:
            return self._bad(f"{field}: the image is larger than 10MB")
        info = self._probe(raw, ".img")
        if info is None or not info.is_image:
            return self._bad(f"{field}: not a readable .jpg/.jpeg/.png image")
        w, h = info.width or 0, info.height or 0
        if self.strict_media and min(w, h) < 300:
            return self._bad(f"{field}: the image must be at least 300px on each side")
        if self.strict_media and not 1 / 2.5 <= w / h <= 2.5:
            return self._bad(f"{field}: the image's aspect ratio must be between 1:2.5 and 2.5:1")
        return (w, h)

    def create_lipsync(self, req: Request) -> Reply:
        refused = self._refuse_account()
        if refused:
            return refused
        body = _json_object(req)
        if body is None or not isinstance(body.get("input"), dict):
            return self._bad("input: required", 1200)
        inp = body["input"]
        if bool(inp.get("video_url")) == bool(inp.get("video_id")):
            return self._bad("input: give exactly one of video_url and video_id")
        clip = self._clip(inp)
        if isinstance(clip, Reply):
            return clip
        w, h, seconds = clip
        mode = inp.get("mode")
        audio: Path | None = None
        if mode == "audio2video":
            audio_type = inp.get("audio_type")
            if audio_type == "file":
                raw = _b64(inp.get("audio_file") or "")
                if not raw:
                    return self._bad("input.audio_file: base64 audio required for audio_type file")
                if len(raw) > MAX_AUDIO:
                    return self._bad("input.audio_file: the audio is larger than 5MB")
                info = self._probe(raw, ".audio")
                if info is None or not info.has_audio:
                    return self._bad("input.audio_file: not a readable .mp3/.wav/.m4a/.aac file")
                length = info.audio_duration or info.duration or 0
                if self.strict_media and not 2 <= length <= 60:
                    return self._bad("input.audio_file: the audio must last 2 to 60 seconds")
                audio = self._keep(raw, ".audio")
            elif audio_type == "url":
                return self._bad("input.audio_url: the audio URL could not be fetched")
            else:
                return self._bad("input.audio_type: must be file or url")
        elif mode == "text2video":
            text = inp.get("text")
            if not isinstance(text, str) or not text or len(text) > 120:
                return self._bad("input.text: 1 to 120 characters required for text2video")
            if not inp.get("voice_id"):
                return self._bad("input.voice_id: required for text2video")
        else:
            return self._bad("input.mode: must be audio2video or text2video")
        return self._accept(
            "lip-sync",
            body.get("external_task_id"),
            body,
            width=w,
            height=h,
            seconds=seconds,
            audio=audio,
        )

    def identify_face(self, req: Request) -> Reply:
        body = _json_object(req)
        if body is None:
            return self._bad("request body is not a JSON object", 1200)
        if bool(body.get("video_url")) == bool(body.get("video_id")):
            return self._bad("give exactly one of video_url and video_id")
        clip = self._clip(body)
        if isinstance(clip, Reply):
            return clip
        w, h, seconds = clip
        session = str(next(self._ids))
        ms = int(round(seconds * 1000))
        faces = (
            []
            if self.no_face
            else [{"face_id": "0", "face_image": f"{self.cdn_url}/face.png", "start_time": 0,
                   "end_time": ms}]
        )  # fmt: skip
        with self._inputs_lock:
            self.sessions[session] = {"size": (w, h, seconds), "faces": faces}
        return Reply(200, self._envelope({"session_id": session, "face_data": faces}))

    def create_advanced(self, req: Request) -> Reply:
        refused = self._refuse_account()
        if refused:
            return refused
        body = _json_object(req)
        if body is None:
            return self._bad("request body is not a JSON object", 1200)
        session = self.sessions.get(str(body.get("session_id")))
        if session is None:
            return self._bad("session_id: unknown or expired session")
        choose = body.get("face_choose")
        if not isinstance(choose, list) or len(choose) != 1 or not isinstance(choose[0], dict):
            return self._bad("face_choose: one face is supported")
        pick = choose[0]
        face = next((f for f in session["faces"] if f["face_id"] == pick.get("face_id")), None)
        if face is None:
            return self._bad("face_choose.face_id: not a face of this session")
        raw = _b64(pick.get("sound_file") or "")
        if not raw:
            return self._bad("face_choose.sound_file: base64 audio required")
        if len(raw) > MAX_AUDIO:
            return self._bad("face_choose.sound_file: the audio is larger than 5MB")
        info = self._probe(raw, ".audio")
        if info is None or not info.has_audio:
            return self._bad("face_choose.sound_file: not a readable .mp3/.wav/.m4a/.aac file")
        audio_ms = int(round((info.audio_duration or info.duration or 0) * 1000))
        try:
            start, end = int(pick.get("sound_start_time", 0)), int(pick["sound_end_time"])
            insert = int(pick.get("sound_insert_time", 0))
        except (KeyError, TypeError, ValueError):
            return self._bad("face_choose: sound_start_time/sound_end_time must be integers (ms)")
        if not 0 <= start < end <= audio_ms + 50:
            return self._bad("face_choose: the sound span must lie within the audio")
        if self.strict_media and end - start < 2000:
            return self._bad("face_choose: the sound must last at least 2 seconds")
        if insert < face["start_time"] or insert + (end - start) > face["end_time"] + 50:
            return self._bad("face_choose.sound_insert_time: the sound must fit the face's span")
        w, h, seconds = session["size"]
        return self._accept(
            "advanced-lip-sync",
            body.get("external_task_id"),
            body,
            width=w,
            height=h,
            seconds=seconds,
            audio=self._keep(raw, ".audio"),
        )

    def _clip(self, inp: dict[str, Any]) -> tuple[int, int, float] | Reply:
        """The size and length of the clip to lip-sync (a video Kling made, or a data URI)."""
        if inp.get("video_id"):
            job = next(
                (j for j in list(self.jobs.values()) if j.extra.get("video_id") == inp["video_id"]),
                None,
            )
            if job is None or job.state() != "done":
                return self._bad("input.video_id: no finished video with this id")
            return job.width, job.height, job.seconds
        url = inp["video_url"]
        if isinstance(url, str) and url.startswith("data:") and self.data_uris:
            raw = _data_uri(url)
            if raw is None:
                return self._bad("input.video_url: not a valid data URI")
        else:
            raw = self.read_input(url) if isinstance(url, str) else None
            if raw is None:
                return self._bad("input.video_url: the video URL could not be fetched")
        info = self._probe(raw, ".mp4")
        if info is None or not info.has_video or info.is_image:
            return self._bad("input.video_url: not a readable .mp4/.mov video")
        w, h, seconds = info.width or 0, info.height or 0, info.duration or 0.0
        if self.strict_media and not 2 <= seconds <= 10:
            return self._bad("input.video_url: the video must last 2 to 10 seconds")
        if self.strict_media and not (512 <= w <= 2160 and 512 <= h <= 2160):
            return self._bad("input.video_url: width and height must be 512px to 2160px")
        return w, h, round(seconds, 2)

    def _accept(
        self,
        kind: str,
        external: Any,
        body: dict[str, Any],
        *,
        width: int,
        height: int,
        seconds: float,
        audio: Path | None,
        tail: str | None = None,
    ) -> Reply:
        if external is not None and not isinstance(external, str):
            return self._bad("external_task_id: must be a string")
        with self._inputs_lock:
            if external and external in self._external:
                return self._bad(f"external_task_id {external!r} already exists")
            task_id = str(next(self._ids))
            now = int(time.time() * 1000)
            job = self.new_job(
                task_id,
                "video",
                _summary(body),
                width=width,
                height=height,
                seconds=seconds,
                extra={
                    "kind": kind,
                    "external_task_id": external,
                    "created_at": now,
                    "video_id": str(uuid.uuid4()),
                    "audio": audio,
                    "model": body.get("model_name"),
                    "image_tail_sha256": tail,  # the last frame received, as its hash
                },
            )
            if external:
                self._external[external] = task_id
        return Reply(200, self._envelope(self._task(job, brief=True)))

    # -- queries ----------------------------------------------------------------------------

    def get(self, req: Request) -> Reply:
        ident = req.match["id"]
        with self._inputs_lock:
            task_id = self._external.get(ident, ident)
        job = self.jobs.get(task_id)
        if job is None or job.extra["kind"] != req.match["kind"]:
            return Reply(404, self._envelope(None, 1203, "Requested resource does not exist"))
        return Reply(200, self._envelope(self._task(job)))

    def list(self, req: Request) -> Reply:
        try:
            page = max(1, int(req.query.get("pageNum", "1")))
            size = min(500, max(1, int(req.query.get("pageSize", "30"))))
        except ValueError:
            return self._bad("pageNum/pageSize: must be integers")
        jobs = sorted(
            (j for j in list(self.jobs.values()) if j.extra["kind"] == req.match["kind"]),
            key=lambda j: j.extra["created_at"],
            reverse=True,
        )
        chunk = jobs[(page - 1) * size : page * size]
        return Reply(200, self._envelope([self._task(j) for j in chunk]))

    def _task(self, job: FakeJob, *, brief: bool = False) -> dict[str, Any]:
        created = job.extra["created_at"]
        status = "submitted" if brief else STATUS[job.state()]
        task: dict[str, Any] = {
            "task_id": job.id,
            "task_status": status,
            "task_info": (
                {"external_task_id": job.extra["external_task_id"]}
                if job.extra["external_task_id"]
                else {}
            ),
            "created_at": created,
            "updated_at": created + int((time.monotonic() - job.created) * 1000),
        }
        if brief:
            return task
        task["task_status_msg"] = ""
        if status == "failed":
            task["task_status_msg"] = "Failure to pass the risk control system"
        elif status == "succeed":
            task["task_result"] = {
                "videos": [
                    {
                        "id": job.extra["video_id"],
                        "url": self.media_url(job),
                        "duration": str(job.seconds),
                    }
                ]
            }
        return task

    # -- media ------------------------------------------------------------------------------

    def _keep(self, raw: bytes, suffix: str) -> Path:
        path = self._media_dir / f"input-{uuid.uuid4().hex}{suffix}"
        path.write_bytes(raw)
        return path

    def _probe(self, raw: bytes, suffix: str) -> Any:
        from vfbuild.errors import MediaError
        from vfbuild.media.probe import probe

        path = self._keep(raw, suffix)
        try:
            return probe(path)
        except MediaError:
            return None
        finally:
            path.unlink(missing_ok=True)


def _json_object(req: Request) -> dict[str, Any] | None:
    try:
        body = req.json()
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def _summary(body: dict[str, Any]) -> dict[str, Any]:
    """The request as tests inspect it: every field but the base64 media."""
    big = ("image", "image_tail", "video_url", "audio_file", "sound_file")

    def kept(k: str, v: Any) -> bool:
        return k not in big or (isinstance(v, str) and v.startswith(("http://", "https://")))

    out = {k: v for k, v in body.items() if kept(k, v) and k != "input"}
    if isinstance(body.get("input"), dict):
        out["input"] = {k: v for k, v in body["input"].items() if kept(k, v)}
    if isinstance(body.get("face_choose"), list):
        out["face_choose"] = [
            {k: v for k, v in f.items() if kept(k, v)} if isinstance(f, dict) else f
            for f in body["face_choose"]
        ]
    return out


def _b64(value: str) -> bytes | None:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def _data_uri(uri: str) -> bytes | None:
    head, sep, payload = uri.partition(",")
    if not sep or not head.endswith(";base64"):
        return None
    return _b64(payload)


def _fit(size: tuple[int, int], short: int) -> tuple[int, int]:
    """`short` on the short side, the long side at the input's aspect ratio (even numbers)."""
    w, h = size
    if w >= h:
        return 2 * round(short * w / h / 2), short
    return short, 2 * round(short * h / w / 2)


def film_providers(fake: KlingFake, film_root: Path) -> dict[str, Any]:
    """The `providers:` of shots.yaml for a film made through this fake (video and lipsync)."""
    return {
        "video": {
            "use": "kling",
            "base_url": fake.url,
            "draft": {"mode": "std"},
            "final": {"mode": "pro"},
        },
        "lipsync": {"use": "kling", "base_url": fake.url},
    }
