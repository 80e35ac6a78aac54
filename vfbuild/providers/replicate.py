"""Replicate through its HTTP API (https://api.replicate.com/v1).

- Submit: `POST /v1/models/{owner}/{name}/predictions` with `{input}` (an official model, run
  at its latest version), or `POST /v1/predictions` with `{version, input}` when the model is
  pinned as `owner/name:version` → 201 and the prediction.
- Follow: `GET /v1/predictions/{id}`: `status` starting, processing, succeeded, failed,
  canceled; `output` is a URL or a list of URLs on Replicate's file host, deleted after an
  hour, so the take is downloaded as soon as the prediction succeeds.
- Cancel: `POST /v1/predictions/{id}/cancel`.
- Errors are RFC 7807 problem details (`{type, title, status, detail}`); 422 means the input
  was refused (with `invalid_fields`); 429 comes with `Retry-After` (the client waits it out).

Replicate lists a key's predictions (`GET /v1/predictions`, newest first, cursor pages), so a
job whose submit reply was lost is looked up (`can_find = True`): the newest prediction of the
same model with the same input is the one we made. Only the first few pages are read: a lost
reply is found within seconds of the crash or the next build, not among thousands of jobs.

The submit does not ask `Prefer: wait`: holding the create reply open widens the window in
which a reply can be lost, and a lost create costs a look-up; polling is cheap.

How a recipe becomes model input (the tier's provider settings are merged over it, so a film
can set any input the model takes):

- keyframe: `prompt`, `width`/`height` (with `aspect_ratio: custom` for FLUX models, which
  use width and height only then), `seed`, `output_format: png`; `negative_prompt` for models
  that take one (not FLUX); the first reference image as `image_prompt` for FLUX 1.1 Pro
  (Flux Redux), the only default model that takes an image beside the prompt.
- draft/final (image-to-video): the models of `clips.REPLICATE` (Kling 2.x, Veo 3.1, Seedance,
  Hailuo) by their own fields: the keyframe as their first-frame field, the shot's `last` frame
  as their last-frame field, the length they make, `seed`/`negative_prompt` where they take
  them, native audio off. Any other model as before: `image` (the keyframe), `prompt`,
  `negative_prompt`, `seed`, and the length: Wan 2.1 takes `num_frames` (81 to 100 at 16
  fps), other models `duration` in whole seconds.
- upscale: `video` and `target_resolution` (720p, 1080p or 4k, from the delivery height).
- lipsync: `video`, `audio`.

Input files go as `data:` URIs, which Replicate accepts for file inputs; with
`providers.hosting` they go as URLs on the film's host (see hosting.py).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from vfbuild.errors import HttpStatusError, ProviderError
from vfbuild.providers.clips import REPLICATE as CLIPS
from vfbuild.providers.remote import (
    FAILED_STATE,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    Poll,
    RemoteJob,
    RemoteProvider,
)

# The keys `file_url` fills (with each clip model's first- and last-frame fields).
FILE_INPUTS = frozenset(
    {"image", "image_prompt", "video", "audio"}
    | {c.image for c in CLIPS.values()}
    | {c.last for c in CLIPS.values() if c.last}
)
FIND_PAGES = 5  # pages of recent predictions read to find a job whose submit reply was lost
WAN_FPS, WAN_FRAMES = 16, (81, 100)  # what Wan 2.1 image-to-video makes
_PERCENT = re.compile(r"(\d{1,3})%\|")  # tqdm progress bars in the prediction's logs


def split_model(model: str) -> tuple[str, str | None]:
    """`owner/name` and the pinned version (None: the model's latest)."""
    name, _, version = model.partition(":")
    if name.count("/") != 1 or not all(name.split("/")):
        raise ProviderError(
            f"replicate: model {model!r} is not an `owner/name[:version]` id",
            hint="use a model id as replicate.com shows it, e.g. black-forest-labs/flux-1.1-pro",
        )
    return name, version or None


def wan_frames(seconds: float) -> int:
    """The frames Wan 2.1 is asked for: the shot's, within the 81 to 100 it makes."""
    return min(WAN_FRAMES[1], max(WAN_FRAMES[0], round(seconds * WAN_FPS) + 1))


class ReplicateProvider(RemoteProvider):
    name: ClassVar[str] = "replicate"
    can_find: ClassVar[bool] = True
    api: ClassVar[str] = "v1"
    takes_last_frame = True  # the models of `clips.REPLICATE` with a last-frame field

    def takes_last(self, step: str, model: str) -> bool:
        clip = CLIPS.get(split_model(model)[0].lower())
        return step in ("draft", "final") and clip is not None and clip.last is not None

    def units_for(self, recipe: dict[str, Any], seconds: float | None) -> tuple[str, float]:
        """A model of the table bills the clip it makes (Veo: 4, 6 or 8 s)."""
        name = split_model(str(recipe.get("model") or ""))[0].lower()
        clip = CLIPS.get(name)
        if recipe.get("step") in ("draft", "final") and clip is not None:
            return ("second", float(clip.seconds((recipe.get("settings") or {}).get("duration"))))
        return self.units(str(recipe.get("step")), seconds)

    def auth_headers(self) -> dict[str, str]:
        self.require_keys()  # a resumed job polls without submitting: say so before a 401
        return {"Authorization": f"Bearer {self.key('REPLICATE_API_TOKEN')}"}

    def made_seconds(self, recipe: dict[str, Any]) -> float | None:
        """How long a clip Wan makes for the recipe (at most 100 frames: 6.25 s, whatever the
        shot asks); None for other models, which make the whole seconds they are asked."""
        name = split_model(str(recipe.get("model") or ""))[0].lower()
        if recipe.get("step") in ("draft", "final") and name in CLIPS:
            return float(CLIPS[name].seconds((recipe.get("settings") or {}).get("duration")))
        if recipe.get("step") not in ("draft", "final") or "wan" not in name:
            return None
        return wan_frames(float((recipe.get("settings") or {}).get("duration") or 5.0)) / WAN_FPS

    # -- the model input --------------------------------------------------------------------

    def url_inputs(self, job: RemoteJob) -> list[Path]:
        if job.step == "keyframe":
            refs = job.files("references")
            return refs[:1] if "flux-1.1-pro" in split_model(job.model)[0].lower() else []
        return job.roles()

    def input_for(self, job: RemoteJob) -> dict[str, Any]:
        s = job.settings
        name = split_model(job.model)[0].lower()
        flux = "flux" in name
        prompt, negative = job.recipe.get("prompt") or "", job.recipe.get("negative")
        seed = int(job.recipe.get("seed") or 0)
        body: dict[str, Any]
        if job.step == "keyframe":
            body = {
                "prompt": prompt,
                "width": int(s["width"]),
                "height": int(s["height"]),
                "seed": seed,
                "output_format": "png",
            }
            if flux:
                body["aspect_ratio"] = "custom"
            elif negative:
                body["negative_prompt"] = negative
            refs = job.files("references")
            if refs and "flux-1.1-pro" in name:
                body["image_prompt"] = self.file_url(refs[0], job)
        elif job.step in ("draft", "final") and name in CLIPS:
            model_in = CLIPS[name]
            body = {
                model_in.image: self.file_url(job.file("keyframe"), job),
                "prompt": prompt,
                "duration": model_in.duration(s.get("duration")),
            }
            if job.has("last") and model_in.last:
                for k, v in (model_in.last_needs or {}).items():
                    if job.extra.get(k) != v:
                        raise ProviderError(
                            f"{job.label}: replicate's {job.model} takes a last frame only with "
                            f"`{k}: {v}`",
                            hint=f"set `{k}: {v}` for this tier under `providers: video:` in "
                            "shots.yaml",
                        )
                body[model_in.last] = self.file_url(job.file("last"), job)
            if model_in.seed:
                body["seed"] = seed
            if negative and model_in.negative:
                body["negative_prompt"] = negative
            if model_in.audio:
                body[model_in.audio] = False
        elif job.step in ("draft", "final"):
            image = self.file_url(job.file("keyframe"), job)
            body = {"image": image, "prompt": prompt, "seed": seed}
            if negative:
                body["negative_prompt"] = negative
            seconds = float(s.get("duration") or 5.0)
            if "wan" in name:
                body["num_frames"] = wan_frames(seconds)
                body["frames_per_second"] = WAN_FPS
            else:
                body["duration"] = max(1, math.ceil(seconds - 1e-6))
        elif job.step == "upscale":
            body = {
                "video": self.file_url(job.file("clip"), job),
                "target_resolution": _resolution(int(s.get("height") or 1080)),
            }
        elif job.step == "lipsync":
            body = {
                "video": self.file_url(job.file("clip"), job),
                "audio": self.file_url(job.file("audio"), job),
            }
        else:
            raise ProviderError(f"{job.label}: replicate cannot make {job.step} takes")
        return body | job.extra

    # -- the protocol -----------------------------------------------------------------------

    def submit(self, job: RemoteJob) -> str:
        name, version = split_model(job.model)
        inp = self.input_for(job)
        path, body = (
            ("/v1/predictions", {"version": version, "input": inp})
            if version
            else (f"/v1/models/{name}/predictions", {"input": inp})
        )
        try:
            resp = self.http.request(
                "POST", path, what=f"{job.label}: submit to {name}", creates=True, json=body
            )
        except HttpStatusError as e:
            raise self._refused(job, e) from None
        pred = resp.json()
        if not isinstance(pred, dict) or not pred.get("id"):
            raise ProviderError(
                f"{job.label}: replicate accepted the job but sent no prediction id: "
                f"{str(pred)[:200]}"
            )
        return str(pred["id"])

    def poll(self, job_id: str, job: RemoteJob) -> Poll:
        pred = self.http.get_json(
            f"/v1/predictions/{job_id}", what=f"{job.label}: status of {job_id}"
        )
        status = pred.get("status") if isinstance(pred, dict) else None
        if status == "starting":
            return Poll(QUEUED, progress=0.0)
        if status == "processing":
            return Poll(RUNNING, progress=_progress(pred.get("logs")))
        if status == "succeeded":
            urls = _urls(pred.get("output"))
            if not urls:
                why = (
                    "the output was deleted (Replicate keeps outputs for an hour)"
                    if pred.get("data_removed")
                    else "the prediction succeeded without an output"
                )
                return Poll(FAILED_STATE, error=why)
            return Poll(SUCCEEDED, progress=1.0, outputs=urls)
        if status == "failed":
            return Poll(FAILED_STATE, error=str(pred.get("error") or "no reason given"))
        if status == "canceled":
            return Poll(FAILED_STATE, error="the prediction was canceled")
        raise ProviderError(f"{job.label}: replicate sent an unknown status {status!r}")

    def find(self, job: RemoteJob) -> str | None:
        """The newest recent prediction of this model with this input, if any."""
        name, version = split_model(job.model)
        want = self.input_for(job)
        url: str | None = "/v1/predictions"
        for _ in range(FIND_PAGES):
            if not url:
                break
            page = self.http.get_json(url, what=f"{job.label}: list recent predictions")
            for pred in page.get("results") or []:
                if not isinstance(pred, dict) or pred.get("model") != name:
                    continue
                if version and pred.get("version") != version:
                    continue
                if _same_input(pred.get("input"), want, self.same_file):
                    return str(pred["id"])
            url = page.get("next")
        return None

    def cancel(self, job_id: str, job: RemoteJob) -> None:
        self.http.request(
            "POST",
            f"/v1/predictions/{job_id}/cancel",
            what=f"{job.label}: cancel {job_id}",
            ok=(200, 201, 202, 404),
        )

    def _refused(self, job: RemoteJob, e: HttpStatusError) -> HttpStatusError:
        text = _problem_text(e.body)
        payment = (
            f"replicate wants payment first (HTTP 402: {text})",
            "add credit or a payment method at https://replicate.com/account/billing",
        )
        return self._refusal(
            job,
            e,
            text,
            key="REPLICATE_API_TOKEN",
            key_page="https://replicate.com/account/api-tokens",
            models="replicate.com",
            more={402: payment},
        )


def _resolution(height: int) -> str:
    return "720p" if height <= 720 else "1080p" if height <= 1080 else "4k"


def _urls(output: Any) -> list[str]:
    """The URLs in a prediction's output: a string, a list, or a dict of them."""
    if isinstance(output, str):
        return [output] if output.startswith(("http://", "https://", "data:")) else []
    if isinstance(output, list):
        return [u for item in output for u in _urls(item)]
    if isinstance(output, dict):
        return [u for item in output.values() for u in _urls(item)]
    return []


def _progress(logs: Any) -> float | None:
    found = _PERCENT.findall(logs) if isinstance(logs, str) else []
    return min(1.0, int(found[-1]) / 100) if found else None


def _same_input(theirs: Any, ours: dict[str, Any], same_file: Callable[[str, str], bool]) -> bool:
    """Whether a listed prediction's input is the one we sent. A file input may come back as
    another URL than we sent: a `data:` URI as a URL on Replicate's file host (any URL matches
    it then), a hosted file's URL as one it had earlier (`same_file`). Every other field
    (prompt, seed, sizes, settings) must be equal."""
    if not isinstance(theirs, dict):
        return False
    for key, value in ours.items():
        got = theirs.get(key)
        if got == value:
            continue
        if key in FILE_INPUTS and isinstance(value, str) and isinstance(got, str):
            if value.startswith("data:") and got.startswith(("http://", "https://")):
                continue
            if same_file(value, got):
                continue
        return False
    return True


def _problem_text(body: Any) -> str:
    """One line from an RFC 7807 problem (`detail`, and each invalid field for a 422)."""
    if not isinstance(body, dict):
        return str(body)[:300]
    text = str(body.get("detail") or body.get("title") or body)
    fields = body.get("invalid_fields")
    if isinstance(fields, list) and fields:
        parts = [f"{f.get('field')}: {f.get('description')}" for f in fields if isinstance(f, dict)]
        text = "; ".join(parts) or text
    return text
