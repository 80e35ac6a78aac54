"""Kling (api-singapore.klingai.com): image-to-video and lip-sync.

Kling has no API key as such: every request carries a JWT (HS256) that we sign with the
secret key, issued by the access key and valid for 30 minutes. The token is cached and renewed
five minutes before it expires, and registered for redaction like the keys themselves.

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
import random
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vfbuild.errors import HttpStatusError, ProviderError
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
)

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("vfbuild.kling")

TOKEN_LIFE = 1800  # seconds, as Kling's docs sign it
TOKEN_RENEW = 300  # renew a cached token this long before it expires
AUTH_CODES = frozenset(range(1000, 1005))
ACCOUNT_CODES = frozenset(range(1100, 1103))
NOT_FOUND_CODES = frozenset({1203})
STATES = {"submitted": QUEUED, "processing": RUNNING, "succeed": SUCCEEDED, "failed": FAILED_STATE}
KINDS = {"draft": "image2video", "final": "image2video", "lipsync": "lip-sync"}


def clip_seconds(seconds: float | None) -> int:
    """Kling makes (and bills) a 5 s or a 10 s clip: the shortest that covers the shot."""
    return 5 if (seconds or 0) <= 5 else 10


class KlingProvider(RemoteProvider):
    name = "kling"
    can_find = True
    can_cancel = False  # Kling has no cancel endpoint
    api = "v1"

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._token: tuple[str, float, str, str] | None = None  # jwt, expiry, ak, sk
        self._token_lock = threading.Lock()

    # -- identity ---------------------------------------------------------------------------

    def units(self, step: str, seconds: float | None) -> tuple[str, float]:
        if step in ("draft", "final"):
            return ("second", float(clip_seconds(seconds)))
        return super().units(step, seconds)

    def auth_headers(self) -> dict[str, str]:
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
        kind = KINDS[job.step]
        body = self._lipsync_body(job) if kind == "lip-sync" else self._i2v_body(job)
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
            "duration": str(clip_seconds(s.get("duration"))),
        }
        if job.recipe.get("negative"):
            body["negative_prompt"] = job.recipe["negative"]
        body |= job.extra  # e.g. mode, cfg_scale, camera_control from shots.yaml
        if "duration" in body:
            body["duration"] = str(body["duration"])
        body["external_task_id"] = job.client_id
        return body

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
        data = self._call("GET", f"/v1/videos/{KINDS[job.step]}/{job_id}", job, "poll")
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
            data = self._call("GET", f"/v1/videos/{KINDS[job.step]}/{job.client_id}", job, "find")
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
        if e.status == 401 or code in AUTH_CODES:
            hint = (
                "check KLING_ACCESS_KEY and KLING_SECRET_KEY (and this machine's clock: the "
                "token is valid from 5 s ago for 30 minutes)"
            )
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
        return HttpStatusError(text, status=status, body=e.body, hint=hint)


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
