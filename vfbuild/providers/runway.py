"""Runway (api.dev.runwayml.com): image-to-video (Gen-4 Turbo) and video upscale.

Every request names the API version it was written against (`X-Runway-Version`); Runway
refuses requests without it. Inputs go as `data:` URIs when they fit Runway's 5 MiB limit and
through Runway's ephemeral uploads (`POST /v1/uploads`, then a form POST to the storage URL it
returns, then the `runway://` URI) when they do not: an upscale's source clip rarely fits.
An upload is made once per file and build, before the job is journalled.

Runway takes no client-chosen id and cannot list tasks, so a task whose create reply was lost
cannot be found: the journal stops that job and names it, unless `--resubmit`.

Output sizes are Runway's, not the tier's: image-to-video renders at one of the model's fixed
ratios (the nearest to the tier's width:height, unless `ratio` is set in shots.yaml), for 5 or
10 seconds; `upscale_v1` makes the clip 4x larger, at most 4096 px a side.
"""

from __future__ import annotations

import logging
import math
import threading
from pathlib import Path
from typing import Any

from vfbuild.errors import HttpStatusError, ProviderError
from vfbuild.media.types import media_type
from vfbuild.providers.remote import (
    FAILED_STATE,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    Poll,
    RemoteJob,
    RemoteProvider,
    data_uri,
    parse_ratio,
)

log = logging.getLogger("vfbuild.runway")

API_VERSION = "2024-11-06"
# The output resolutions each image-to-video model accepts (Runway's API reference).
RATIOS: dict[str, tuple[str, ...]] = {
    "gen4_turbo": ("1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672"),
    "gen4.5": ("1280:720", "720:1280", "1104:832", "960:960", "832:1104", "1584:672"),
    "gen3a_turbo": ("1280:768", "768:1280"),
}
DATA_URI_LIMIT = 5 * 1024 * 1024  # longer data URIs are refused: upload instead
PROMPT_LIMIT = 1000  # UTF-16 code units
SEED_LIMIT = 2**32
STATES = {
    "PENDING": QUEUED,
    "THROTTLED": QUEUED,
    "RUNNING": RUNNING,
    "SUCCEEDED": SUCCEEDED,
    "FAILED": FAILED_STATE,
    "CANCELLED": FAILED_STATE,
}
PATHS = {
    "draft": "/v1/image_to_video",
    "final": "/v1/image_to_video",
    "upscale": "/v1/video_upscale",
}


def clip_seconds(seconds: float | None) -> int:
    """Runway makes (and bills) a 5 s or a 10 s clip: the shortest that covers the shot."""
    return 5 if (seconds or 0) <= 5 else 10


def nearest_ratio(model: str, width: int, height: int) -> str:
    """The model's output ratio closest in shape to width:height."""
    want = math.log(width / height)
    choices = RATIOS.get(model, RATIOS["gen4_turbo"])

    def distance(ratio: str) -> float:
        w, h = (int(x) for x in ratio.split(":"))
        return abs(math.log(w / h) - want)

    return min(choices, key=distance)


class RunwayProvider(RemoteProvider):
    name = "runway"
    can_find = False
    api = API_VERSION

    def units(self, step: str, seconds: float | None) -> tuple[str, float]:
        if step in ("draft", "final"):
            return ("second", float(clip_seconds(seconds)))
        return super().units(step, seconds)

    def made_aspect(self, recipe: dict[str, Any]) -> tuple[int, int] | None:
        """The aspect Runway makes a clip at: the ratio sent, the nearest of the model's to
        the tier's (or the film's `ratio`); a result is held to it, not to the tier's."""
        s = recipe.get("settings") or {}
        if (
            recipe.get("step") not in ("draft", "final")
            or not s.get("width")
            or not s.get("height")
        ):
            return None
        model = str(recipe.get("model") or "")
        chosen = (s.get("provider_settings") or {}).get("ratio")
        return parse_ratio(chosen or nearest_ratio(model, int(s["width"]), int(s["height"])))

    def auth_headers(self) -> dict[str, str]:
        self.require_keys()  # a resumed job polls too: fail clearly, not with a 401
        return {
            "Authorization": f"Bearer {self.key('RUNWAYML_API_SECRET')}",
            "X-Runway-Version": API_VERSION,
        }

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._uploaded: dict[str, str] = {}  # input file -> its `runway://` URI, this build
        self._upload_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    # -- the protocol -----------------------------------------------------------------------

    def stage(self, job: RemoteJob) -> None:
        # Runway's own uploads happen before the job is journalled (see RemoteProvider.stage):
        # one cut short leaves no entry that would make the next build stop on it.
        path = job.file("clip" if job.step == "upscale" else "keyframe")
        if not _fits(path):
            self._asset(path, job)

    def submit(self, job: RemoteJob) -> str:
        body = self._upscale_body(job) if job.step == "upscale" else self._i2v_body(job)
        try:
            resp = self.http.request(
                "POST", PATHS[job.step], what="submit", creates=True, json=body
            )
        except HttpStatusError as e:
            raise _explain(e, job, "submit") from None
        task_id = _json(resp).get("id")
        if not task_id:
            raise ProviderError(f"{job.label}: runway accepted the task but gave no id")
        return str(task_id)

    def _i2v_body(self, job: RemoteJob) -> dict[str, Any]:
        s = job.settings
        prompt = job.recipe.get("prompt") or ""
        if len(prompt.encode("utf-16-le")) // 2 > PROMPT_LIMIT:
            raise ProviderError(
                f"{job.label}: the prompt is {len(prompt)} characters; Runway takes at most "
                f"{PROMPT_LIMIT}",
                hint="shorten the shot's motion prompt (or the style text appended to it)",
            )
        body: dict[str, Any] = {
            "model": job.model,
            "promptImage": self._asset(job.file("keyframe"), job),
            "ratio": nearest_ratio(job.model, int(s["width"]), int(s["height"])),
            "duration": clip_seconds(s.get("duration")),
            "seed": int(job.recipe.get("seed") or 0) % SEED_LIMIT,
        }
        if prompt:
            body["promptText"] = prompt
        # Gen-4 Turbo has no negative prompt: the recipe's is not sent.
        return body | job.extra

    def _upscale_body(self, job: RemoteJob) -> dict[str, Any]:
        return {"model": job.model, "videoUri": self._asset(job.file("clip"), job)} | job.extra

    def _asset(self, path: Path, job: RemoteJob) -> str:
        """A data URI when it fits, else an ephemeral upload's `runway://` URI (one upload
        per file and build: the takes of one keyframe share it)."""
        if _fits(path):
            return data_uri(path)
        with self._lock:
            file_lock = self._upload_locks.setdefault(str(path), threading.Lock())
        with file_lock:
            if str(path) not in self._uploaded:
                self._uploaded[str(path)] = self._upload(path, job)
            return self._uploaded[str(path)]

    def _upload(self, path: Path, job: RemoteJob) -> str:
        try:
            slot = self.http.request(
                "POST",
                "/v1/uploads",
                what=f"{job.label}: upload {path.name}",
                json={"filename": path.name, "type": "ephemeral"},
            ).json()
            if not isinstance(slot, dict) or not {"uploadUrl", "runwayUri"} <= slot.keys():
                raise ProviderError(
                    f"{job.label}: runway's upload slot is incomplete: {slot!r:.200}"
                )
            mime = media_type(path)
            with open(path, "rb") as f:
                # The storage URL is another host: the client sends it no credentials.
                self.http.request(
                    "POST",
                    slot["uploadUrl"],
                    what=f"{job.label}: upload {path.name}",
                    ok=(200, 201, 204),
                    data=dict(slot.get("fields") or {}),
                    files={"file": (path.name, f, mime)},
                )
        except HttpStatusError as e:
            raise _explain(e, job, f"upload of {path.name}") from None
        return str(slot["runwayUri"])

    def poll(self, job_id: str, job: RemoteJob) -> Poll:
        try:
            task = self.http.get_json(f"/v1/tasks/{job_id}", what=f"{job.label}: poll")
        except HttpStatusError as e:
            raise _explain(e, job, "poll") from None
        status = str(task.get("status", ""))
        state = STATES.get(status)
        if state is None:
            raise ProviderError(f"{job.label}: runway reported an unknown task status {status!r}")
        if status == "CANCELLED":
            return Poll(FAILED_STATE, error="the task was cancelled")
        if state == FAILED_STATE:
            reason = str(task.get("failure") or "no reason given")
            code = task.get("failureCode")
            return Poll(FAILED_STATE, error=f"{reason} ({code})" if code else reason)
        if state == SUCCEEDED:
            return Poll(SUCCEEDED, outputs=[str(u) for u in task.get("output") or []])
        progress = task.get("progress")
        return Poll(state, progress=float(progress) if progress is not None else None)

    def cancel(self, job_id: str, job: RemoteJob) -> None:
        try:
            self.http.request(
                "DELETE", f"/v1/tasks/{job_id}", what=f"{job.label}: cancel", ok=(200, 204)
            )
        except HttpStatusError as e:
            if e.status != 404:  # already gone
                raise _explain(e, job, "cancel") from None


def _fits(path: Path) -> bool:
    """Whether the file fits Runway's limit as a `data:` URI (base64 and its prefix)."""
    return path.stat().st_size * 4 // 3 + 64 < DATA_URI_LIMIT


def _json(resp: Any) -> dict[str, Any]:
    try:
        body = resp.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _explain(e: HttpStatusError, job: RemoteJob, what: str) -> HttpStatusError:
    """Runway's `error` (and the fields its `issues` name), with what to do about it."""
    body = e.body if isinstance(e.body, dict) else {}
    message = str(body.get("error") or e.body or "")
    issues = body.get("issues")
    if isinstance(issues, list) and issues:
        parts = []
        for issue in issues:
            if isinstance(issue, dict):
                where = ".".join(str(p) for p in issue.get("path") or [])
                parts.append(f"{where}: {issue.get('message')}" if where else str(issue))
        message += " (" + "; ".join(parts) + ")"
    hint = None
    if e.status == 401:
        hint = "check RUNWAYML_API_SECRET (keys look like key_ and 128 hex digits)"
    elif e.status == 400:
        hint = "fix what Runway names (shots.yaml provider settings, or the input media)"
    elif e.status == 404:
        hint = "Runway no longer has this task (outputs and tasks expire)"
    return HttpStatusError(
        f"{job.label}: runway {what} refused (HTTP {e.status}): {message}",
        status=e.status,
        body=e.body,
        hint=hint,
    )
