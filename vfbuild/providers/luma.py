"""Luma Dream Machine (api.lumalabs.ai): Photon keyframes and Ray image-to-video.

This is Luma's `dream-machine/v1` API (ray-2, ray-flash-2, photon-1), which Luma now calls
legacy: new keys and ray-3.x are on the Luma Agents API (agents.lumalabs.ai/v1,
`LUMA_AGENTS_API_KEY`, `POST /v1/generations` with `type: video`), which vfbuild does not speak
yet (see the README). First and last frame go as Dream Machine's `keyframes.frame0` and
`keyframes.frame1`, which its Ray models take.

Inputs: Luma fetches keyframe and reference images from URLs it can reach. With
`providers.hosting` in shots.yaml, vfbuild uploads them (once per file, see hosting.py) and
sends their URLs; without it, it sends `data:` URIs, which Luma may refuse (the refusal then
says to set `hosting`).

Luma takes no client-chosen id, but it lists a user's generations (newest first) and echoes
each one's request, so a generation whose create reply was lost is found by its request: one
made since the job was journalled, with the same request, that no other journalled job
claims. Luma has no seed, so the takes of one shot send identical requests; any one of those
generations then serves as well as another, and the claims keep two takes from sharing one.

Output sizes are Luma's: video at the `resolution` (the smallest that covers the tier's
height, unless set in shots.yaml) and the nearest of Luma's aspect ratios, for 5 or 9
seconds; Photon images at Luma's own size for the aspect ratio.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from vfbuild.errors import HttpStatusError, ProviderError
from vfbuild.providers.base import InputFiles, MakeContext
from vfbuild.providers.remote import (
    FAILED_STATE,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    UNHOSTED_HINT,
    Poll,
    RemoteJob,
    RemoteProvider,
    parse_ratio,
    refusal_class,
)
from vfbuild.store.journal import Journal

log = logging.getLogger("vfbuild.luma")

BASE = "/dream-machine/v1"
ASPECTS = ("1:1", "16:9", "9:16", "4:3", "3:4", "21:9", "9:21")
RESOLUTIONS = (("540p", 540), ("720p", 720), ("1080p", 1080), ("4k", 2160))
MAX_REFERENCES = 4  # Photon's image_ref
STATES = {"queued": QUEUED, "dreaming": RUNNING, "completed": SUCCEEDED, "failed": FAILED_STATE}
LIST_LIMIT = 100
LIST_PAGES = 20  # how far back `find` reads: 2000 generations
FIND_SLACK = 600.0  # seconds of clock difference allowed between us and Luma


def clip_seconds(seconds: float | None) -> int:
    """Luma makes (and bills) a 5 s or a 9 s clip: the shortest that covers the shot, if any."""
    return 5 if (seconds or 0) <= 5 else 9


def nearest_aspect(width: int, height: int) -> str:
    want = math.log(width / height)

    def distance(aspect: str) -> float:
        w, h = (int(x) for x in aspect.split(":"))
        return abs(math.log(w / h) - want)

    return min(ASPECTS, key=distance)


def resolution_for(width: int, height: int) -> str:
    """The smallest of Luma's resolutions whose short side covers the tier's."""
    short = min(width, height)
    return next((name for name, px in RESOLUTIONS if px >= short), RESOLUTIONS[-1][0])


class LumaProvider(RemoteProvider):
    name = "luma"
    can_find = True
    can_cancel = False  # deleting a generation does not stop it
    api = "dream-machine/v1"
    takes_last_frame = True  # keyframes.frame1

    def takes_last(self, step: str, model: str) -> bool:
        return step in ("draft", "final") and model.startswith("ray-")

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._journals: dict[str, Journal] = {}  # recipe key -> the journal its build uses
        self._claimed: set[str] = set()  # generation ids this process has given to a job
        self._lock = threading.Lock()
        # Submits run side by side; a lookup waits for them and holds new ones back, so every
        # generation it lists was either claimed by its job or lost its reply.
        self._turns = threading.Condition()
        self._submitting = 0
        self._finding = False

    def units(self, step: str, seconds: float | None) -> tuple[str, float]:
        if step in ("draft", "final"):
            return ("second", float(clip_seconds(seconds)))
        return super().units(step, seconds)

    def made_aspect(self, recipe: dict[str, Any]) -> tuple[int, int] | None:
        """The aspect Luma makes a take at: the ratio sent, the nearest of its own to the
        tier's (or the film's `aspect_ratio`); a result is held to it, not to the tier's."""
        s = recipe.get("settings") or {}
        if not s.get("width") or not s.get("height"):
            return None
        chosen = (s.get("provider_settings") or {}).get("aspect_ratio")
        return parse_ratio(chosen or nearest_aspect(int(s["width"]), int(s["height"])))

    def auth_headers(self) -> dict[str, str]:
        self.require_keys()  # a resumed job polls too: fail clearly, not with a 401
        return {"Authorization": f"Bearer {self.key('LUMAAI_API_KEY')}"}

    def make(self, recipe: dict[str, Any], inputs: InputFiles, out: Path, ctx: MakeContext) -> None:
        # `find` needs the journal to know which generations other jobs already own.
        if ctx.journal is not None:
            with self._lock:
                self._journals[ctx.key] = ctx.journal
        try:
            super().make(recipe, inputs, out, ctx)
        finally:
            with self._lock:
                self._journals.pop(ctx.key, None)

    # -- the protocol -----------------------------------------------------------------------

    def url_inputs(self, job: RemoteJob) -> list[Path]:
        if job.step == "keyframe":
            return job.files("references")[:MAX_REFERENCES]
        return job.roles()  # the keyframe, and the last frame if the shot has one

    def submit(self, job: RemoteJob) -> str:
        kind, body = self._request(job)
        with self._turns:
            self._turns.wait_for(lambda: not self._finding)
            self._submitting += 1
        try:
            resp = self.http.request(
                "POST", f"{BASE}/generations/{kind}", what="submit", creates=True, json=body
            )
            gen = resp.json()
            gen_id = gen.get("id") if isinstance(gen, dict) else None
            if not gen_id:
                raise ProviderError(f"{job.label}: luma accepted the generation but gave no id")
            with self._lock:
                self._claimed.add(str(gen_id))
            return str(gen_id)
        except HttpStatusError as e:
            unhosted = bool(self.url_inputs(job)) and self.host is None
            raise _explain(e, job, "submit", unhosted=unhosted) from None
        finally:
            with self._turns:
                self._submitting -= 1
                self._turns.notify_all()

    def _request(self, job: RemoteJob) -> tuple[str, dict[str, Any]]:
        s = job.settings
        w, h = int(s["width"]), int(s["height"])
        body: dict[str, Any] = {
            "model": job.model,
            "prompt": job.recipe.get("prompt") or "",
            "aspect_ratio": nearest_aspect(w, h),
        }
        if job.step == "keyframe":
            refs = job.files("references")
            if len(refs) > MAX_REFERENCES:
                raise ProviderError(
                    f"{job.label}: {len(refs)} reference images; Luma's Photon takes at most "
                    f"{MAX_REFERENCES}",
                    hint="give this shot fewer references (characters) in shots.yaml",
                )
            body |= {"generation_type": "image", "format": "png"}
            if refs:
                body["image_ref"] = [{"url": self.file_url(p, job)} for p in refs]
            return "image", body | job.extra
        body |= {
            "generation_type": "video",
            "duration": f"{clip_seconds(s.get('duration'))}s",
            "resolution": resolution_for(w, h),
            "keyframes": {
                "frame0": {"type": "image", "url": self.file_url(job.file("keyframe"), job)}
            },
        }
        if job.has("last"):
            url = self.file_url(job.file("last"), job)
            body["keyframes"]["frame1"] = {"type": "image", "url": url}
        # Ray has no negative prompt: the recipe's is not sent.
        return "video", body | job.extra

    def poll(self, job_id: str, job: RemoteJob) -> Poll:
        gen = self._get(f"{BASE}/generations/{job_id}", job, "poll")
        state = STATES.get(str(gen.get("state", "")))
        if state is None:
            raise ProviderError(
                f"{job.label}: luma reported an unknown generation state {gen.get('state')!r}"
            )
        if state == FAILED_STATE:
            return Poll(state, error=str(gen.get("failure_reason") or "no reason given"))
        if state != SUCCEEDED:
            return Poll(state)
        assets = gen.get("assets") or {}
        url = assets.get("image" if job.step == "keyframe" else "video")
        return Poll(SUCCEEDED, outputs=[str(url)] if url else [])

    def find(self, job: RemoteJob) -> str | None:
        _, body = self._request(job)
        with self._lock:
            journal = self._journals.get(job.key)
        since: float | None = None
        claimed: set[str] = set()
        if journal is not None:
            entry = journal.get(job.key)
            if entry is not None and "submitting" in entry.times:
                since = entry.times["submitting"] - FIND_SLACK
            claimed = {
                e.job_id
                for e in journal.entries()
                if e.provider == self.name and e.job_id and e.key != job.key
            }
        with self._turns:
            self._turns.wait_for(lambda: not self._finding and not self._submitting)
            self._finding = True
        try:
            with self._lock:
                claimed |= self._claimed
            found = self._scan(body, since, claimed, job)
            if found is not None:
                with self._lock:
                    self._claimed.add(found)
        finally:
            with self._turns:
                self._finding = False
                self._turns.notify_all()
        if found:
            log.info("%s: found luma generation %s (its create reply was lost)", job.label, found)
        return found

    def _scan(
        self, body: dict[str, Any], since: float | None, claimed: set[str], job: RemoteJob
    ) -> str | None:
        """The oldest unclaimed generation since `since` whose request is `body`."""
        matches: list[tuple[float, str]] = []
        for page in range(LIST_PAGES):
            listing = self._get(
                f"{BASE}/generations?limit={LIST_LIMIT}&offset={page * LIST_LIMIT}", job, "find"
            )
            gens = listing.get("generations") or []
            older = False
            for gen in gens:
                created = _timestamp(gen.get("created_at"))
                if since is not None and created is not None and created < since:
                    older = True  # newest first: the rest are older still
                    break
                gen_id = str(gen.get("id") or "")
                ours = _same(gen.get("request"), body, self.same_file)
                if gen_id and gen_id not in claimed and ours:
                    matches.append((created or 0.0, gen_id))
            if older or not gens or not listing.get("has_more"):
                break
        return min(matches)[1] if matches else None

    def cancel(self, job_id: str, job: RemoteJob) -> None:
        # Luma cannot stop a generation; deleting it is all there is.
        try:
            self.http.request(
                "DELETE", f"{BASE}/generations/{job_id}", what=f"{job.label}: delete", ok=(200, 204)
            )
        except HttpStatusError as e:
            if e.status != 404:
                raise _explain(e, job, "delete") from None

    def credits(self) -> float:
        """The account's credit balance."""
        body = self.http.get_json(f"{BASE}/credits", what="luma: credits")
        return float(body["credit_balance"])

    def _get(self, path: str, job: RemoteJob, what: str) -> dict[str, Any]:
        try:
            body = self.http.get_json(path, what=f"{job.label}: {what}")
        except HttpStatusError as e:
            raise _explain(e, job, what) from None
        if not isinstance(body, dict):
            raise ProviderError(f"{job.label}: luma {what}: unexpected reply {body!r:.200}")
        return body


def _same(echo: Any, body: Any, same_file: Callable[[str, str], bool]) -> bool:
    """Whether a generation's echoed request is the one we sent (Luma may add defaults). An
    image's URL may be an earlier one of the same hosted file (`same_file`)."""
    if isinstance(body, dict):
        return isinstance(echo, dict) and all(
            (isinstance(v, str) and k == "url" and isinstance(echo.get(k), str)
             and same_file(v, echo[k]))
            or _same(echo.get(k), v, same_file)
            for k, v in body.items()
        )  # fmt: skip
    if isinstance(body, list):
        return (
            isinstance(echo, list)
            and len(echo) == len(body)
            and all(_same(e, b, same_file) for e, b in zip(echo, body, strict=True))
        )
    return bool(echo == body)


def _timestamp(value: Any) -> float | None:
    try:
        return datetime.fromisoformat(str(value)).timestamp()
    except ValueError:
        return None


def _explain(
    e: HttpStatusError, job: RemoteJob, what: str, *, unhosted: bool = False
) -> HttpStatusError:
    """Luma's `detail` (a message, or FastAPI's list of field errors), said plainly."""
    detail = e.body.get("detail") if isinstance(e.body, dict) else e.body
    if isinstance(detail, list):
        parts = []
        for d in detail:
            if isinstance(d, dict):
                where = ".".join(str(x) for x in d.get("loc") or [] if x != "body")
                parts.append(f"{where}: {d.get('msg')}" if where else str(d.get("msg")))
        detail = "; ".join(parts)
    hint = None
    if e.status in (401, 403):
        hint = "check LUMAAI_API_KEY"
    elif e.status in (400, 422):
        hint = "fix what Luma names (shots.yaml provider settings, or the input images)"
        if unhosted:
            hint += f"; {UNHOSTED_HINT}"
    return refusal_class(e)(
        f"{job.label}: luma {what} refused (HTTP {e.status}): {detail}",
        status=e.status,
        body=e.body,
        hint=hint,
    )
