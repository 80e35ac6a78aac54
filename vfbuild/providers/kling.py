"""Kling (api-singapore.klingai.com): image-to-video and lip-sync, Kling's `/v1` API.

Keys: Kling now issues a single API key, sent as `Authorization: Bearer <key>`
(`KLING_API_KEY`; the Vercel AI SDK's Kling provider moved to it in 2026: "Kling AI now issues
a single API key that is sent as a bearer token … the legacy accessKey / secretKey pair keeps
working"). With the older pair (`KLING_ACCESS_KEY`, `KLING_SECRET_KEY`) every request carries a
JWT (HS256) that we sign with the secret key, issued by the access key and valid for 30
minutes. The token is cached and renewed five minutes before it expires, and registered for
redaction like the keys themselves. With both set, the API key is used.

Models and lengths (Kling's capability map, and the model pages of the services that resell
it, read 2026-12-03): kling-v1 … kling-v2-6 make 5 s or 10 s; kling-v3 makes any whole length
from 3 s to 15 s. The last frame goes as `image_tail` (raw base64, as `image`), which kling-v1
and kling-v3 take in either mode and kling-v1-5 … kling-v2-6 only in `pro` mode (a draft, made
in `std`, is refused before it is sent, saying so).

Lip-sync: `kling-lipsync` (the default) is Kling's first lip-sync endpoint
(`/v1/videos/lip-sync`), kept as it was. `kling-advanced-lipsync` is the newer route: identify
the faces in the clip (`POST /v1/videos/identify-face`, answered at once with a `session_id`
and each face's id and time span), then `POST /v1/videos/advanced-lip-sync` with the session,
the face and the line (`face_choose: [{face_id, sound_file, sound_start_time,
sound_end_time, sound_insert_time, …}]`), followed at `/v1/videos/advanced-lip-sync/{id}`.
A clip in which Kling finds no face is refused (`InputRefused`): no other take would differ.

Kling lets the client name a task (`external_task_id`), and its query endpoint accepts that
name in place of the task id, so a task whose create reply was lost is looked up by the id we
chose (the journal's client id) and never paid for twice.

Kling answers errors with an HTTP status and a service `code` in its envelope. 429 means two
different things there: 1100-1102 are account problems (arrears, an empty resource pack) that
no retry can fix, while 1302/1303 are rate limits worth waiting out. The shared client would
retry both, so this module takes 429 itself and tells them apart.

Lip-sync input: Kling wants `video_url` to be a public URL (or `video_id`, a video Kling made).
With `providers.hosting` in shots.yaml, vfbuild uploads the clip (see hosting.py) and sends its
URL; without it, it sends a `data:` URI, which Kling may refuse (the refusal then says to set
`hosting`). The audio goes inline, as the base64 `audio_file` Kling takes.
"""

from __future__ import annotations

import base64
import logging
import math
import os
import random
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vfbuild.errors import HttpStatusError, InputRefused, ProviderError
from vfbuild.providers.http import add_secret, retry_after
from vfbuild.providers.remote import (
    FAILED_STATE,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    UNHOSTED_HINT,
    Poll,
    RemoteJob,
    RemoteProvider,
    refusal_class,
)

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("vfbuild.kling")

TOKEN_LIFE = 1800  # seconds, as Kling's docs sign it
TOKEN_RENEW = 300  # renew a cached token this long before it expires
AUTH_CODES = frozenset(range(1000, 1005))
ACCOUNT_CODES = frozenset(range(1100, 1103))
NOT_FOUND_CODES = frozenset({1203})
# Kling's "trigger the content security policy of the platform": the input is refused.
REFUSED_CODES = frozenset({1301})
STATES = {"submitted": QUEUED, "processing": RUNNING, "succeed": SUCCEEDED, "failed": FAILED_STATE}
KINDS = {"draft": "image2video", "final": "image2video", "lipsync": "lip-sync"}
ADVANCED_LIPSYNC = "kling-advanced-lipsync"
API_KEY = "KLING_API_KEY"
# The models that make any whole length in a span (the rest make 5 s or 10 s).
SPANS = {"kling-v3": (3, 15)}
# Who takes a last frame (`image_tail`): in either mode, or in pro mode only.
TAIL_ANY_MODE = frozenset({"kling-v1", "kling-v3"})
TAIL_PRO_ONLY = frozenset(
    {"kling-v1-5", "kling-v1-6", "kling-v2-1", "kling-v2-5-turbo", "kling-v2-6"}
)


def clip_seconds(seconds: float | None, model: str | None = None) -> int:
    """The clip Kling makes (and bills) for a shot: 5 s or 10 s, the shortest that covers it;
    for kling-v3, the shot's whole seconds within 3 to 15."""
    span = SPANS.get(model or "")
    if span is not None:
        return max(span[0], min(span[1], math.ceil(float(seconds or 0) - 1e-6)))
    return 5 if (seconds or 0) <= 5 else 10


def kind_of(step: str, model: str) -> str:
    """The endpoint of a job: image2video, lip-sync or advanced-lip-sync."""
    if step == "lipsync" and model == ADVANCED_LIPSYNC:
        return "advanced-lip-sync"
    return KINDS[step]


class KlingProvider(RemoteProvider):
    name = "kling"
    can_find = True
    can_cancel = False  # Kling has no cancel endpoint
    api = "v1"
    takes_last_frame = True  # image_tail, for the models in TAIL_ANY_MODE and TAIL_PRO_ONLY

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._token: tuple[str, float, str, str] | None = None  # jwt, expiry, ak, sk
        self._token_lock = threading.Lock()

    # -- identity ---------------------------------------------------------------------------

    def takes_last(self, step: str, model: str) -> bool:
        return step in ("draft", "final") and model in TAIL_ANY_MODE | TAIL_PRO_ONLY

    def made_seconds(self, recipe: dict[str, Any]) -> float | None:
        """kling-v3's clip is the shot's length (3 to 15 s); other models' are `units`'."""
        model = str(recipe.get("model") or "")
        if recipe.get("step") not in ("draft", "final") or model not in SPANS:
            return None
        return float(clip_seconds((recipe.get("settings") or {}).get("duration"), model))

    def units_for(self, recipe: dict[str, Any], seconds: float | None) -> tuple[str, float]:
        made = self.made_seconds(recipe)
        return ("second", made) if made is not None else self.units(str(recipe["step"]), seconds)

    def units(self, step: str, seconds: float | None) -> tuple[str, float]:
        if step in ("draft", "final"):
            return ("second", float(clip_seconds(seconds)))
        return super().units(step, seconds)

    def auth_headers(self) -> dict[str, str]:
        key = self.key(API_KEY)
        if key:
            self.require_keys()
            return {"Authorization": f"Bearer {key}"}
        return {"Authorization": f"Bearer {self.token()}"}

    def token(self) -> str:
        """The JWT for the next request: cached, renewed before it expires."""
        self.require_keys()  # a resumed job polls too: fail clearly, not with a 401
        ak, sk = self.key("KLING_ACCESS_KEY"), self.key("KLING_SECRET_KEY")
        with self._token_lock:
            now = time.time()
            cached = self._token
            if cached and cached[2:] == (ak, sk) and cached[1] - now > TOKEN_RENEW:
                return cached[0]
            issued = int(now)
            payload = {"iss": ak, "exp": issued + TOKEN_LIFE, "nbf": issued - 5}
            token = jwt_encode(payload, sk)
            add_secret(token)
            self._token = (token, float(issued + TOKEN_LIFE), ak, sk)
            return token

    # -- the protocol -----------------------------------------------------------------------

    def url_inputs(self, job: RemoteJob) -> list[Path]:
        return [job.file("clip")] if job.step == "lipsync" else []

    def submit(self, job: RemoteJob) -> str:
        kind = kind_of(job.step, job.model)
        if kind == "advanced-lip-sync":
            body = self._advanced_body(job)
        elif kind == "lip-sync":
            body = self._lipsync_body(job)
        else:
            body = self._i2v_body(job)
        data = self._call("POST", f"/v1/videos/{kind}", job, "submit", creates=True, json=body)
        task_id = data.get("task_id")
        if not task_id:
            raise ProviderError(f"{job.label}: kling accepted the task but gave no task_id")
        return str(task_id)

    def _i2v_body(self, job: RemoteJob) -> dict[str, Any]:
        s = job.settings
        body: dict[str, Any] = {
            "model_name": job.model,
            # Kling takes raw base64 here: a `data:` prefix is refused.
            "image": base64.b64encode(job.file("keyframe").read_bytes()).decode("ascii"),
            "prompt": job.recipe.get("prompt") or "",
            "mode": "std" if job.recipe.get("tier") == "draft" else "pro",
            "duration": str(clip_seconds(s.get("duration"), job.model)),
        }
        if job.recipe.get("negative"):
            body["negative_prompt"] = job.recipe["negative"]
        body |= job.extra  # e.g. mode, cfg_scale, camera_control from shots.yaml
        if "duration" in body:
            body["duration"] = str(body["duration"])
        if job.has("last"):
            if job.model in TAIL_PRO_ONLY and body.get("mode") != "pro":
                raise ProviderError(
                    f"{job.label}: kling's {job.model} takes a last frame (image_tail) in pro "
                    f"mode only, and this {job.recipe.get('tier')} is made in "
                    f"{body.get('mode')} mode",
                    hint="set `mode: pro` for this tier under `providers: video:` in shots.yaml, "
                    "or use kling-v3, which takes a last frame in either mode",
                )
            body["image_tail"] = base64.b64encode(job.file("last").read_bytes()).decode("ascii")
        body["external_task_id"] = job.client_id
        return body

    def _advanced_body(self, job: RemoteJob) -> dict[str, Any]:
        """Identify the clip's faces (no task, no charge: answered at once), then the advanced
        lip-sync of the first face to the line, from the start of that face's time span."""
        from vfbuild.media.probe import probe

        found = self._call(
            "POST",
            "/v1/videos/identify-face",
            job,
            "identify-face",
            json={"video_url": self.file_url(job.file("clip"), job)},
        )
        faces = [f for f in found.get("face_data") or [] if isinstance(f, dict)]
        if not faces or not found.get("session_id"):
            raise InputRefused(
                f"{job.label}: kling found no face to lip-sync in the clip",
                status=422,
                body=found,
                hint="lip-sync needs a clip with a visible face: pick another take, or give "
                "the slot a `fallback:` provider",
            )
        face = faces[0]
        start, end = int(face.get("start_time") or 0), int(face.get("end_time") or 0)
        info = probe(job.file("audio"))
        audio_ms = int(round((info.audio_duration or info.duration or 0.0) * 1000))
        length = min(audio_ms, end - start) if end > start else audio_ms
        choice = {
            "face_id": str(face["face_id"]),
            "sound_file": base64.b64encode(job.file("audio").read_bytes()).decode("ascii"),
            "sound_start_time": 0,
            "sound_end_time": length,
            "sound_insert_time": start,
            "sound_volume": 1,
            "original_audio_volume": 0,  # the line replaces whatever the clip had
        } | job.extra
        return {
            "session_id": str(found["session_id"]),
            "face_choose": [choice],
            "external_task_id": job.client_id,
        }

    def _lipsync_body(self, job: RemoteJob) -> dict[str, Any]:
        audio = job.file("audio").read_bytes()
        return {
            "input": {
                "video_url": self.file_url(job.file("clip"), job),
                "mode": "audio2video",
                "audio_type": "file",
                "audio_file": base64.b64encode(audio).decode("ascii"),
                **job.extra,
            },
            "external_task_id": job.client_id,
        }

    def poll(self, job_id: str, job: RemoteJob) -> Poll:
        data = self._call("GET", f"/v1/videos/{kind_of(job.step, job.model)}/{job_id}", job, "poll")
        status = str(data.get("task_status", ""))
        state = STATES.get(status)
        if state is None:
            raise ProviderError(f"{job.label}: kling reported an unknown task status {status!r}")
        if state == FAILED_STATE:
            return Poll(state, error=str(data.get("task_status_msg") or "no reason given"))
        if state != SUCCEEDED:
            return Poll(state)
        videos = (data.get("task_result") or {}).get("videos") or []
        return Poll(SUCCEEDED, outputs=[str(v["url"]) for v in videos if v.get("url")])

    def find(self, job: RemoteJob) -> str | None:
        # The query endpoint takes our external_task_id where it takes a task id.
        try:
            path = f"/v1/videos/{kind_of(job.step, job.model)}/{job.client_id}"
            data = self._call("GET", path, job, "find")
        except HttpStatusError as e:
            if e.status == 404 or _code(e.body) in NOT_FOUND_CODES:
                return None
            raise
        ext = (data.get("task_info") or {}).get("external_task_id")
        if ext not in (None, job.client_id):
            return None
        return str(data["task_id"]) if data.get("task_id") else None

    def cancel(self, job_id: str, job: RemoteJob) -> None:
        # Kling has no cancel endpoint: a task runs to its end once submitted.
        log.info("%s: kling cannot cancel task %s; it will finish on its own", job.label, job_id)

    # -- plumbing ---------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        job: RemoteJob,
        what: str,
        *,
        creates: bool = False,
        json: Any = None,
    ) -> dict[str, Any]:
        """One request, unwrapped from Kling's envelope; 429s sorted into wait or stop."""
        # The label goes into messages here, except for the create: the journal adds it there.
        doing = what if creates else f"{job.label}: {what}"
        for attempt in range(self.http.retries + 1):
            try:
                resp = self.http.request(
                    method, path, what=doing, creates=creates, ok=(200, 201, 429), json=json
                )
            except HttpStatusError as e:
                raise self._explain(e, job, what) from None
            if resp.status_code == 429:
                code = _code(_json(resp))
                if code in ACCOUNT_CODES:
                    raise self._explain(
                        HttpStatusError("", status=429, body=_json(resp)), job, what
                    ) from None
                if attempt < self.http.retries:
                    wait = retry_after(resp)
                    if wait is None:
                        wait = random.uniform(0, min(30.0, 0.25 * 2**attempt))
                    log.debug("%s: kling rate limit (%s); waiting %.1fs", job.label, code, wait)
                    time.sleep(min(wait, 30.0))
                    continue
                raise self._explain(
                    HttpStatusError("", status=429, body=_json(resp)), job, what
                ) from None
            body = _json(resp)
            if not isinstance(body, dict) or body.get("code") not in (0, None):
                raise self._explain(
                    HttpStatusError("", status=resp.status_code, body=body), job, what
                )
            data = body.get("data")
            if not isinstance(data, dict):
                raise ProviderError(f"{job.label}: kling {what}: no data in the reply: {body!r}")
            return data
        raise AssertionError("unreachable")

    def _explain(self, e: HttpStatusError, job: RemoteJob, what: str) -> HttpStatusError:
        """Kling's code and message, said plainly, with what to do about it."""
        code, message = _code(e.body), _message(e.body)
        status, hint = e.status, None
        cls = refusal_class(e)
        if e.status == 401 or code in AUTH_CODES:
            hint = (
                "check KLING_API_KEY"
                if os.environ.get(API_KEY)
                else "check KLING_ACCESS_KEY and KLING_SECRET_KEY (and this machine's clock: "
                "the token is valid from 5 s ago for 30 minutes), or export KLING_API_KEY"
            )
        elif code in REFUSED_CODES:
            cls = InputRefused  # the same input would be refused again
            hint = "change the prompt or the input image, or give the slot a `fallback:`"
        elif code in ACCOUNT_CODES:
            # Nothing was created and no retry will help: report it like a payment problem,
            # so the journal forgets the job and the next build (after a top-up) submits it.
            status = 402
            hint = "top up or renew the Kling resource pack, then build again"
        elif e.status == 400:
            hint = "fix the setting Kling names (shots.yaml provider settings or the input)"
            if self.url_inputs(job) and self.host is None:
                hint += f"; {UNHOSTED_HINT}"
        text = f"{job.label}: kling {what} refused (HTTP {e.status}"
        text += f", code {code})" if code is not None else ")"
        text += f": {message}" if message else f": {e.message or e.body!r}"
        return cls(text, status=status, body=e.body, hint=hint)


def jwt_encode(payload: dict[str, Any], secret: str) -> str:
    import jwt

    return jwt.encode(payload, secret, algorithm="HS256", headers={"typ": "JWT"})


def _json(resp: httpx.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return resp.text[:500]


def _code(body: Any) -> int | None:
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, int) else None


def _message(body: Any) -> str:
    return str(body.get("message") or "") if isinstance(body, dict) else ""
