"""Luma's current API, the Luma Agents API (agents.lumalabs.ai/v1): Ray 3.2 image-to-video.

Luma calls its Dream Machine API (`luma.py`, ray-2) legacy; new keys (`LUMA_AGENTS_API_KEY`,
`luma-api-…`) and ray-3.x are on this one, at another host with another request shape, so it
is a provider of its own (`use: luma-agents`). What it speaks, from Luma's published docs
(docs.agents.lumalabs.ai: the quickstart, guides/videos/generation, guides/model,
guides/error-handling, api/resources/generations, read 2026-12-03; responses carry
`X-API-Version: 2026-04-01`, informational, not sent):

- `POST /v1/generations` with `Authorization: Bearer <key>`: `{model: ray-3.2, type: video,
  prompt, aspect_ratio, video: {resolution: 540p|720p|1080p, duration: 5s|10s, start_frame,
  end_frame}}` → 201 with the generation (`id`, `state`). A frame is an ImageRef: `{url}` or
  inline `{data, media_type}` (base64), so without `providers.hosting` the keyframe goes
  inline, which Luma documents (not a `data:` URI).
- `GET /v1/generations/{id}` → `{id, state: queued|processing|completed|failed, failure_code,
  failure_reason, output: [{type, url}]}`; the output URL is presigned for an hour.
- Errors: 400/413/422 refuse the request (422: "parameter combination rejected, or bad media
  data"), 401/402/403 the key or the balance; 429 (with Retry-After), 502 and 503 are to be
  retried. A failed generation's `failure_code` says whether sending it again can help:
  `generation_failed` and `output_not_found` can, the input ones (`content_moderated`,
  `image_too_large`, `unsupported_format`, `corrupt_input`, `invalid_request`) cannot and are
  refusals (a `fallback:` may take them elsewhere).

Anchor frames make a 5 s clip only (10 s is text-to-video only), so every take is 5 s and is
billed as one. Luma publishes no way to list a key's generations and no idempotency key: a
job whose create reply was lost cannot be looked up (`can_find = False`), and the build stops
there, naming it, unless `--resubmit` (as with fal).
"""

from __future__ import annotations

import base64
import math
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
    parse_ratio,
)

BASE = "/v1/generations"
MODELS = ("ray-3.2",)
ASPECTS = ("9:16", "3:4", "1:1", "4:3", "16:9", "21:9")  # ray-3.2's set (the server checks it)
RESOLUTIONS = (("540p", 540), ("720p", 720), ("1080p", 1080))
CLIP_SECONDS = 5  # the only length with anchor frames
STATES = {"queued": QUEUED, "processing": RUNNING, "completed": SUCCEEDED, "failed": FAILED_STATE}
# failure codes that refuse the input itself: the same request fails the same way again
REFUSALS = frozenset(
    {"content_moderated", "image_too_large", "unsupported_format", "corrupt_input",
     "invalid_request"}
)  # fmt: skip


def nearest_aspect(width: int, height: int) -> str:
    want = math.log(width / height)

    def distance(aspect: str) -> float:
        w, h = (int(x) for x in aspect.split(":"))
        return abs(math.log(w / h) - want)

    return min(ASPECTS, key=distance)


def resolution_for(width: int, height: int) -> str:
    """The smallest of Ray 3.2's resolutions whose short side covers the tier's."""
    short = min(width, height)
    return next((name for name, px in RESOLUTIONS if px >= short), RESOLUTIONS[-1][0])


class LumaAgentsProvider(RemoteProvider):
    name = "luma-agents"
    can_find = False  # no list of generations is published
    can_cancel = False  # nor a cancel
    api = "agents/v1"
    takes_last_frame = True  # video.end_frame

    def units(self, step: str, seconds: float | None) -> tuple[str, float]:
        if step in ("draft", "final"):
            return ("second", float(CLIP_SECONDS))
        return super().units(step, seconds)

    def made_seconds(self, recipe: dict[str, Any]) -> float | None:
        return float(CLIP_SECONDS) if recipe.get("step") in ("draft", "final") else None

    def made_aspect(self, recipe: dict[str, Any]) -> tuple[int, int] | None:
        s = recipe.get("settings") or {}
        if not s.get("width") or not s.get("height"):
            return None
        chosen = (s.get("provider_settings") or {}).get("aspect_ratio")
        return parse_ratio(chosen or nearest_aspect(int(s["width"]), int(s["height"])))

    def auth_headers(self) -> dict[str, str]:
        self.require_keys()
        return {"Authorization": f"Bearer {self.key('LUMA_AGENTS_API_KEY')}"}

    def url_inputs(self, job: RemoteJob) -> list[Path]:
        return job.roles() if self.host is not None else []

    def image_ref(self, path: Path, job: RemoteJob) -> dict[str, str]:
        """A hosted file's URL, else the file inline (Luma's ImageRef takes either)."""
        if self.host is not None:
            return {"url": self.host.url(path, job.label)}
        return {"data": base64.b64encode(path.read_bytes()).decode("ascii"),
                "media_type": media_type(path)}  # fmt: skip

    def request(self, job: RemoteJob) -> dict[str, Any]:
        if job.step not in ("draft", "final"):
            raise ProviderError(f"{job.label}: luma-agents cannot make {job.step} takes")
        s = job.settings
        w, h = int(s["width"]), int(s["height"])
        video: dict[str, Any] = {
            "resolution": resolution_for(w, h),
            "duration": f"{CLIP_SECONDS}s",
            "start_frame": self.image_ref(job.file("keyframe"), job),
        }
        if job.has("last"):
            video["end_frame"] = self.image_ref(job.file("last"), job)
        body: dict[str, Any] = {
            "model": job.model,
            "type": "video",
            "prompt": job.recipe.get("prompt") or "",
            "aspect_ratio": nearest_aspect(w, h),
            "video": video,
        }
        # Ray has no negative prompt and no seed: neither is sent.
        extra = dict(job.extra)
        if isinstance(extra.get("video"), dict):  # a film's `video:` settings merge, not replace
            body["video"] = video | extra.pop("video")
        return body | extra

    def submit(self, job: RemoteJob) -> str:
        body = self.request(job)
        try:
            resp = self.http.request(
                "POST", BASE, what=f"{job.label}: submit", creates=True, json=body, ok=(200, 201)
            )
        except HttpStatusError as e:
            raise self._refusal(
                job,
                e,
                _detail(e.body),
                key="LUMA_AGENTS_API_KEY",
                key_page="https://platform.lumalabs.ai",
                models="docs.agents.lumalabs.ai/guides/model",
                more={
                    402: (
                        f"{job.label}: luma-agents: the account's balance is too low "
                        f"(HTTP 402: {_detail(e.body)})",
                        "add funds at https://platform.lumalabs.ai, then build again",
                    ),
                    413: (
                        f"{job.label}: luma-agents: an input image is too large (HTTP 413)",
                        "give the shot a smaller keyframe or last frame",
                    ),
                },
            ) from None
        gen = resp.json()
        gen_id = gen.get("id") if isinstance(gen, dict) else None
        if not gen_id:
            raise ProviderError(f"{job.label}: luma-agents accepted the generation but gave no id")
        return str(gen_id)

    def poll(self, job_id: str, job: RemoteJob) -> Poll:
        gen = self.http.get_json(f"{BASE}/{job_id}", what=f"{job.label}: poll")
        if not isinstance(gen, dict):
            raise ProviderError(f"{job.label}: luma-agents poll: unexpected reply {gen!r:.200}")
        state = STATES.get(str(gen.get("state", "")))
        if state is None:
            raise ProviderError(
                f"{job.label}: luma-agents reported an unknown state {gen.get('state')!r}"
            )
        if state == FAILED_STATE:
            code = str(gen.get("failure_code") or "")
            reason = str(gen.get("failure_reason") or "no reason given")
            return Poll(
                state, error=f"{reason} ({code})" if code else reason, refused=code in REFUSALS
            )
        if state != SUCCEEDED:
            return Poll(state)
        outputs = [
            str(o["url"])
            for o in gen.get("output") or []
            if isinstance(o, dict) and o.get("url") and o.get("type", "video") == "video"
        ]
        return Poll(SUCCEEDED, progress=1.0, outputs=outputs)


def _detail(body: Any) -> str:
    """Luma's `detail`: a message, or a list of field errors."""
    detail = body.get("detail") if isinstance(body, dict) else body
    if isinstance(detail, list):
        parts = []
        for d in detail:
            if isinstance(d, dict):
                where = ".".join(str(x) for x in d.get("loc") or [] if x != "body")
                parts.append(f"{where}: {d.get('msg')}" if where else str(d.get("msg")))
        return "; ".join(parts)
    return str(detail)[:300]
