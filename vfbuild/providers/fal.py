"""fal.ai through its queue API (https://queue.fal.run).

- Submit: `POST /{owner}/{app}[/{path}]` with the model's input JSON → `{request_id, …}`.
- Status: `GET /{owner}/{app}/requests/{id}/status` → 202 IN_QUEUE / IN_PROGRESS, 200 COMPLETED
  (a failed request is COMPLETED with `error` and `error_type`); `…/status/stream` sends the
  same objects as server-sent events and closes after COMPLETED. A build follows the stream,
  and polls if it fails.
- Result: `GET /{owner}/{app}/requests/{id}` → the model's output, or the model's error.
- Cancel: `PUT /{owner}/{app}/requests/{id}/cancel`.

The status, result and cancel URLs use the owner and app only, never the endpoint's sub-path
(`fal-ai/kling-video/v2.1/standard/image-to-video` is followed at `fal-ai/kling-video/…`). They
are built here from the recipe's model rather than taken from the submit reply, because the
journal keeps only the request id, and a job resumed after a crash must be found the same way.

fal cannot list a key's requests, so a job whose submit reply was lost cannot be looked up
(`can_find = False`): the build stops there unless `--resubmit`.

How a recipe becomes model input (then the tier's provider settings are merged over it, so a
film can set any input the model takes, e.g. `cfg_scale`, `upscale_factor`, `sync_mode`):

- keyframe (text-to-image, e.g. FLUX): `prompt`, `image_size: {width, height}`, `seed`,
  `num_images: 1`, `output_format: png`; `negative_prompt` for models that take one (not FLUX).
  The first reference image goes in as `image_url` only to image-conditioned endpoints
  (`…/redux`, `…/image-to-image`, `…/kontext…`, `…/edit`); plain text-to-image endpoints have
  no image input, and the references already shaped the composed prompt.
- draft/final (image-to-video): each model's own fields, from the table in `clips.py` (Kling
  2.x/3, Veo 3.1 with first and last frame, Seedance, Hailuo): the keyframe as its first-frame
  field, the shot's `last` frame as its last-frame field (a model with none is refused before
  anything is sent), the length its `duration` takes, `negative_prompt` and `seed` where it
  takes them, and native audio off. A model in no row gets what every model got before:
  `prompt`, `image_url`, `duration: "5"|"10"`, `negative_prompt`, and `seed` unless it is Kling.
- upscale: `video_url` and `upscale_factor` (the delivery height over the clip's height).
- lipsync: `video_url`, `audio_url`.

Input files go as `data:` URIs, which fal accepts for any file input, inside the request
body; with `providers.hosting` they are uploaded to fal's CDN once and sent as URLs (see
hosting.py), as fal's own clients do.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, ClassVar

from vfbuild.errors import HttpStatusError, ProviderError
from vfbuild.providers.base import MakeContext
from vfbuild.providers.clips import FAL as CLIPS
from vfbuild.providers.remote import (
    FAILED_STATE,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    Poll,
    RemoteJob,
    RemoteProvider,
)

log = logging.getLogger("vfbuild.fal")

# Endpoints that take an image besides the prompt: the first reference image goes there.
IMAGE_CONDITIONED = ("/redux", "/image-to-image", "/kontext", "kontext", "/edit")
KLING_CLIPS = (5, 10)
# Model error types that refuse the input itself (fal.ai/docs/errors): sending it again fails
# the same way, so the take is an `InputRefused` (a `fallback:` may try another provider).
REFUSALS = frozenset(
    {
        "content_policy_violation",
        "face_detection_error",
        "image_too_small",
        "image_too_large",
        "image_load_error",
        "file_download_error",
        "unsupported_image_format",
    }
)  # the clip lengths Kling makes; a shot's clip is the shortest that fits


def app_of(model: str) -> str:
    """`owner/app` of a fal model id: what the status, result and cancel URLs use."""
    parts = [p for p in model.strip("/").split("/") if p]
    if len(parts) < 2:
        raise ProviderError(
            f"fal: model {model!r} is not an `owner/app[/path]` id",
            hint="use a model id as fal shows it, e.g. fal-ai/flux-pro/v1.1",
        )
    return f"{parts[0]}/{parts[1]}"


def clip_seconds(seconds: float | None) -> int:
    """The Kling clip that covers a shot: 5 s, else 10 s (longer shots loop in the edit)."""
    s = float(seconds or 0.0)
    return next((c for c in KLING_CLIPS if s <= c + 1e-6), KLING_CLIPS[-1])


class FalProvider(RemoteProvider):
    name: ClassVar[str] = "fal"
    can_find: ClassVar[bool] = False
    api: ClassVar[str] = "queue"
    takes_last_frame = True  # the models of `clips.FAL` with a last-frame field

    def takes_last(self, step: str, model: str) -> bool:
        clip = CLIPS.get(model.strip("/"))
        return step in ("draft", "final") and clip is not None and clip.last is not None

    def made_seconds(self, recipe: dict[str, Any]) -> float | None:
        """The clip length a model of the table makes for the shot (Veo: 4, 6 or 8 s)."""
        clip = CLIPS.get(str(recipe.get("model") or "").strip("/"))
        if recipe.get("step") not in ("draft", "final") or clip is None:
            return None
        return float(clip.seconds((recipe.get("settings") or {}).get("duration")))

    def units_for(self, recipe: dict[str, Any], seconds: float | None) -> tuple[str, float]:
        """What the take is billed by, knowing its model (`units` knows only the step)."""
        made = self.made_seconds(recipe)
        if made is not None:
            return ("second", made)
        return self.units(str(recipe.get("step")), seconds)

    def auth_headers(self) -> dict[str, str]:
        self.require_keys()  # a resumed job polls without submitting: say so before a 401
        return {"Authorization": f"Key {self.key('FAL_KEY')}"}

    def units(self, step: str, seconds: float | None) -> tuple[str, float]:
        if step in ("draft", "final"):
            return ("second", float(clip_seconds(seconds)))  # fal bills the clip Kling makes
        return super().units(step, seconds)

    # -- the model input --------------------------------------------------------------------

    def url_inputs(self, job: RemoteJob) -> list[Path]:
        if job.step == "keyframe":
            refs = job.files("references")
            conditioned = any(k in job.model.lower() for k in IMAGE_CONDITIONED)
            return refs[:1] if conditioned else []
        return job.roles()

    def input_for(self, job: RemoteJob) -> dict[str, Any]:
        s, model = job.settings, job.model.lower()
        prompt, negative = job.recipe.get("prompt") or "", job.recipe.get("negative")
        seed = int(job.recipe.get("seed") or 0)
        body: dict[str, Any]
        if job.step == "keyframe":
            body = {
                "prompt": prompt,
                "image_size": {"width": int(s["width"]), "height": int(s["height"])},
                "seed": seed,
                "num_images": 1,
                "output_format": "png",
            }
            if negative and "flux" not in model:
                body["negative_prompt"] = negative
            refs = job.files("references")
            if refs and any(k in model for k in IMAGE_CONDITIONED):
                body["image_url"] = self.file_url(refs[0], job)
        elif job.step in ("draft", "final") and job.model.strip("/") in CLIPS:
            model_in = CLIPS[job.model.strip("/")]
            body = {
                "prompt": prompt,
                model_in.image: self.file_url(job.file("keyframe"), job),
                "duration": model_in.duration(s.get("duration")),
            }
            if job.has("last") and model_in.last:
                body[model_in.last] = self.file_url(job.file("last"), job)
            if negative and model_in.negative:
                body["negative_prompt"] = negative
            if model_in.seed:
                body["seed"] = seed
            if model_in.audio:
                body[model_in.audio] = False
        elif job.step in ("draft", "final"):
            body = {
                "prompt": prompt,
                "image_url": self.file_url(job.file("keyframe"), job),
                "duration": str(clip_seconds(s.get("duration"))),
            }
            if negative:
                body["negative_prompt"] = negative
            if "kling" not in model:
                body["seed"] = seed
        elif job.step == "upscale":
            clip = job.file("clip")
            body = {"video_url": self.file_url(clip, job), "upscale_factor": _factor(clip, s)}
        elif job.step == "lipsync":
            body = {
                "video_url": self.file_url(job.file("clip"), job),
                "audio_url": self.file_url(job.file("audio"), job),
            }
        else:
            raise ProviderError(f"{job.label}: fal cannot make {job.step} takes")
        return body | job.extra

    # -- the protocol -----------------------------------------------------------------------

    def _requests(self, job: RemoteJob, job_id: str) -> str:
        return f"/{app_of(job.model)}/requests/{job_id}"

    def submit(self, job: RemoteJob) -> str:
        body = self.input_for(job)
        try:
            resp = self.http.request(
                "POST",
                "/" + job.model.strip("/"),
                what=f"{job.label}: submit to {job.model}",
                creates=True,
                json=body,
            )
        except HttpStatusError as e:
            raise self._refused(job, e) from None
        reply = resp.json()
        request_id = reply.get("request_id") if isinstance(reply, dict) else None
        if not request_id:
            raise ProviderError(
                f"{job.label}: fal accepted the job but sent no request_id: {str(reply)[:200]}"
            )
        return str(request_id)

    def poll(self, job_id: str, job: RemoteJob) -> Poll:
        status = self.http.get_json(
            self._requests(job, job_id) + "/status", what=f"{job.label}: status of {job_id}"
        )
        return self._status(status, job_id, job)

    def _wait(self, job_id: str, job: RemoteJob, ctx: MakeContext) -> Poll:
        # fal streams a request's status (server-sent events, closed after COMPLETED): the
        # take is fetched the moment it is done, with one request instead of a poll every
        # 50 ms to 5 s. Should the stream fail or end early, polling takes over.
        stream = self._requests(job, job_id) + "/status/stream"
        try:
            for status in self.http.events(stream, what=f"{job.label}: status of {job_id}"):
                result = self._status(status, job_id, job)
                if result.state in (SUCCEEDED, FAILED_STATE):
                    return result
                ctx.state(result.state)
        except ProviderError as e:
            log.debug("%s; polling instead", e.message)
        return super()._wait(job_id, job, ctx)

    def _status(self, status: Any, job_id: str, job: RemoteJob) -> Poll:
        """What a status object (polled or streamed) says."""
        state = status.get("status") if isinstance(status, dict) else None
        if state == "IN_QUEUE":
            return Poll(QUEUED, progress=0.0)
        if state == "IN_PROGRESS":
            return Poll(RUNNING)
        if state != "COMPLETED":
            raise ProviderError(f"{job.label}: fal sent an unknown status {state!r} for {job_id}")
        if status.get("error"):
            kind = status.get("error_type")
            return Poll(
                FAILED_STATE,
                error=str(status["error"]) + (f" ({kind})" if kind else ""),
                refused=kind in REFUSALS,
            )
        return Poll(SUCCEEDED, progress=1.0)  # its result is read next (`complete`)

    def complete(self, job_id: str, job: RemoteJob, done: Poll) -> Poll:
        # fal keeps a result for an hour (six minutes when large): read it now, at completion.
        try:
            resp = self.http.request(
                "GET",
                self._requests(job, job_id),
                what=f"{job.label}: result of {job_id}",
                ok=(200,),
            )
        except HttpStatusError as e:
            if e.status in (400, 404, 410, 422):
                gone = e.status in (404, 410)
                return Poll(
                    FAILED_STATE,
                    error="fal no longer holds the result (it keeps results for an hour)"
                    if gone
                    else _error_text(e.body),
                    # A model's 422 is its refusal of the input (fal.ai/docs/errors: a
                    # content checker, a face, an image too small): not worth sending again.
                    refused=e.status == 422,
                )
            raise
        url = _output_url(resp.json())
        if url is None:
            return Poll(FAILED_STATE, error="the result names no output file")
        return Poll(SUCCEEDED, progress=1.0, outputs=[url])

    def cancel(self, job_id: str, job: RemoteJob) -> None:
        # 202 CANCELLATION_REQUESTED; 400 ALREADY_COMPLETED and 404 NOT_FOUND leave nothing to do.
        self.http.request(
            "PUT",
            self._requests(job, job_id) + "/cancel",
            what=f"{job.label}: cancel {job_id}",
            ok=(200, 202, 400, 404),
        )

    def _refused(self, job: RemoteJob, e: HttpStatusError) -> HttpStatusError:
        return self._refusal(
            job,
            e,
            _error_text(e.body),
            key="FAL_KEY",
            key_page="https://fal.ai/dashboard/keys",
            models="fal.ai/models",
        )


def _factor(clip: Path, settings: dict[str, Any]) -> float:
    """The upscale factor that brings the clip to the delivery height (at least 1)."""
    from vfbuild.media.probe import probe

    height = probe(clip).height or 0
    target = int(settings.get("height") or 0)
    if height <= 0 or target <= 0:
        return 2.0
    return max(1.0, math.ceil(target / height * 100) / 100)


def _output_url(result: Any) -> str | None:
    """The take's URL in a fal result: `images[0].url`, `image.url`, `video.url`, or the first
    `{url: …}` anywhere (models name their outputs differently)."""
    if not isinstance(result, dict):
        return None
    images = result.get("images")
    if isinstance(images, list) and images and isinstance(images[0], dict):
        return images[0].get("url")
    for key in ("video", "image"):
        value = result.get(key)
        if isinstance(value, dict) and value.get("url"):
            return str(value["url"])
    for value in result.values():
        if isinstance(value, dict) and isinstance(value.get("url"), str):
            return str(value["url"])
        if isinstance(value, list):
            for item in value:
                if isinstance(item, dict) and isinstance(item.get("url"), str):
                    return str(item["url"])
    return None


def _error_text(body: Any) -> str:
    """One line from a fal error: validation errors (`detail: [{loc, msg, type}]`) name the
    input field; request errors are `{detail, error_type}`."""
    if isinstance(body, dict):
        detail = body.get("detail")
        if isinstance(detail, list):
            parts = []
            for d in detail:
                if not isinstance(d, dict):
                    parts.append(str(d))
                    continue
                loc = [str(x) for x in d.get("loc") or [] if x != "body"]
                where = ".".join(loc)
                parts.append(f"{where}: {d.get('msg')}" if where else str(d.get("msg")))
            return "; ".join(parts) or str(body)
        if detail:
            kind = body.get("error_type")
            return str(detail) + (f" ({kind})" if kind else "")
    return str(body)[:300]
