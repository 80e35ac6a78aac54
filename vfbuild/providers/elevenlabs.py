"""ElevenLabs (api.elevenlabs.io): text to speech for the voice step, music for the music step.

Both calls are synchronous: `POST /v1/text-to-speech/{voice_id}` (`text, model_id,
voice_settings, seed`) and `POST /v1/music` (`prompt, music_length_ms, model_id, seed`) answer
with the audio itself (mp3), and ElevenLabs takes no id of ours. A reply lost on the way (a
dropped connection, vf killed mid-request) would be paid twice if sent again, so:

- the job is journalled before the POST (as every remote job is), and the audio of the reply is
  kept in memory until the journal has the generation's id (`history-item-id`, else the
  reply's `request-id`): the job then "succeeds" at once and its audio is written from memory;
- a job whose reply was lost is looked up in the generation history (`GET /v1/history`, newest
  first): an item of the same kind, model, voice and text made since the job was journalled,
  not already another job's, is that job; its audio downloads from
  `GET /v1/history/{history_item_id}/audio`. An item that is not there means the request never
  arrived: sending it is safe.

The key goes in the `xi-api-key` header, and is redacted from anything vfbuild writes.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from vfbuild.errors import HttpStatusError, ProviderError
from vfbuild.providers.base import InputFiles, MakeContext
from vfbuild.providers.remote import SUCCEEDED, Poll, RemoteJob, RemoteProvider
from vfbuild.store.journal import Journal

DEFAULT_VOICE = "JBFqnCBsd6RMkjVDRZzb"  # "George", one of ElevenLabs' default voices
OUTPUT_FORMAT = "mp3_44100_128"
MUSIC_MIN_MS, MUSIC_MAX_MS = 3_000, 300_000  # the lengths /v1/music accepts
HISTORY_PAGE = 100
# How far back, before the job was journalled, a generation may have started (clocks differ).
CLOCK_SLACK = 30.0
MEMORY_PREFIX = "memory:"  # a result whose audio came with the reply


class ElevenLabsProvider(RemoteProvider):
    name = "elevenlabs"
    can_find = True
    can_cancel = False  # a synchronous request cannot be stopped once sent
    api = "v1"

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._audio: dict[str, bytes] = {}  # job id -> the reply's audio, until fetched
        self._lock = threading.Lock()
        self._journal: Journal | None = None

    def ext(self, step: str) -> str:
        return ".mp3"

    def units(self, step: str, seconds: float | None) -> tuple[str, float]:
        return ("take", 1.0)  # prices.yaml gives a typical line's or piece's price

    def auth_headers(self) -> dict[str, str]:
        self.require_keys()
        return {"xi-api-key": self.key("ELEVENLABS_API_KEY")}

    def make(self, recipe: dict[str, Any], inputs: InputFiles, out: Path, ctx: MakeContext) -> None:
        if ctx.journal is not None:
            self._journal = ctx.journal  # `find` skips the generations other jobs own
        super().make(recipe, inputs, out, ctx)

    # -- the protocol -----------------------------------------------------------------------

    def submit(self, job: RemoteJob) -> str:
        if job.step == "voice":
            path, body = self._speech(job)
        elif job.step == "music":
            path, body = "/v1/music", self._music(job)
        else:
            raise ProviderError(f"{job.label}: elevenlabs makes voice and music takes only")
        try:
            resp = self.http.request(
                "POST",
                path,
                what="submit",
                creates=True,
                json=body,
                params={"output_format": OUTPUT_FORMAT},
            )
        except HttpStatusError as e:
            raise _explain(e, job) from None
        audio = resp.content
        if not audio:
            raise ProviderError(f"{job.label}: elevenlabs answered with no audio")
        item = resp.headers.get("history-item-id") or resp.headers.get("song-id")
        request = resp.headers.get("request-id")
        job_id = item or (f"request:{request}" if request else None)
        if job_id is None:
            raise ProviderError(f"{job.label}: elevenlabs's reply names no generation")
        with self._lock:
            self._audio[job_id] = audio
        return job_id

    def _speech(self, job: RemoteJob) -> tuple[str, dict[str, Any]]:
        s = job.settings
        voice = s.get("voice") or DEFAULT_VOICE
        body: dict[str, Any] = {
            "text": job.recipe.get("prompt") or "",
            "model_id": job.model,
            "seed": int(job.recipe.get("seed") or 0) % 2**32,
        }
        if s.get("voice_settings"):
            body["voice_settings"] = dict(s["voice_settings"])
        if "sample" in job.inputs:
            raise ProviderError(
                f"{job.label}: cloning a voice from a sample is not done through vfbuild yet",
                hint="clone it in ElevenLabs (Voices → Instant Voice Clone) and give its id as "
                "the character's `voice: {id: ...}`",
            )
        return f"/v1/text-to-speech/{voice}", body | job.extra

    def _music(self, job: RemoteJob) -> dict[str, Any]:
        ms = round(float(job.settings["seconds"]) * 1000)
        if not MUSIC_MIN_MS <= ms <= MUSIC_MAX_MS:
            raise ProviderError(
                f"{job.label}: elevenlabs makes music of 3 s to 5 min, not {ms / 1000:g} s",
                hint="make the cut longer, or the music with another provider",
            )
        body: dict[str, Any] = {
            "prompt": job.recipe.get("prompt") or "",
            "music_length_ms": ms,
            "model_id": job.model,
            "seed": int(job.recipe.get("seed") or 0) % 2**32,
        }
        return body | job.extra

    def poll(self, job_id: str, job: RemoteJob) -> Poll:
        # The generation was made when its request was answered: nothing to wait for.
        with self._lock:
            held = job_id in self._audio
        if held:
            return Poll(SUCCEEDED, outputs=[MEMORY_PREFIX + job_id])
        item = self._item_id(job_id, job)
        return Poll(SUCCEEDED, outputs=[f"{self.base_url}/v1/history/{item}/audio"])

    def fetch(self, result: Poll, job: RemoteJob, out: Path) -> None:
        url = result.outputs[0]
        if url.startswith(MEMORY_PREFIX):
            with self._lock:
                audio = self._audio.get(url.removeprefix(MEMORY_PREFIX))
            if audio is not None:
                out.write_bytes(audio)
                return
            url = f"{self.base_url}/v1/history/{url.removeprefix(MEMORY_PREFIX)}/audio"
        # The API's own host: the client sends it the key, as the audio endpoint wants.
        self.http.download(url, out, what=f"{job.label}: download")

    def _item_id(self, job_id: str, job: RemoteJob) -> str:
        """A history item's id for a job journalled by its reply's request id."""
        if not job_id.startswith("request:"):
            return job_id
        request = job_id.removeprefix("request:")
        for item in self._history(job):
            if item.get("request_id") == request:
                return str(item["history_item_id"])
        raise ProviderError(
            f"{job.label}: elevenlabs's history has no generation of request {request}",
            hint="it may have been deleted from the history; `vf build --retry-failed`",
        )

    def find(self, job: RemoteJob) -> str | None:
        entry = self._journal.get(job.key) if self._journal is not None else None
        since = (entry.times.get("submitting") or 0.0) if entry is not None else 0.0
        taken = {
            e.job_id
            for e in (self._journal.entries() if self._journal is not None else [])
            if e.provider == self.name and e.job_id and e.key != job.key
        }
        found = [
            item
            for item in self._history(job)
            if self._same(item, job)
            and float(item.get("date_unix") or 0) >= since - CLOCK_SLACK
            and item.get("history_item_id") not in taken
        ]
        if not found:
            return None
        oldest = min(found, key=lambda i: float(i.get("date_unix") or 0))
        return str(oldest["history_item_id"])

    def _same(self, item: dict[str, Any], job: RemoteJob) -> bool:
        text = job.recipe.get("prompt") or ""
        if item.get("model_id") != job.model or item.get("text") != text:
            return False
        if job.step == "voice":
            return item.get("voice_id") == (job.settings.get("voice") or DEFAULT_VOICE)
        return str(item.get("source") or "").lower() == "music"

    def _history(self, job: RemoteJob) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        params: dict[str, Any] = {"page_size": HISTORY_PAGE}
        if job.step == "voice":
            params["voice_id"] = job.settings.get("voice") or DEFAULT_VOICE
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            page = self.http.get_json("/v1/history", what=f"{job.label}: history", params=params)
            items += [i for i in page.get("history") or [] if isinstance(i, dict)]
            last = page.get("last_history_item_id")
            if not page.get("has_more") or not last or len(items) >= 10 * HISTORY_PAGE:
                break
            params["start_after_history_item_id"] = last
        return items

    def cancel(self, job_id: str, job: RemoteJob) -> None:
        return None  # nothing to stop: the generation is made by the time its id is known


def _explain(e: HttpStatusError, job: RemoteJob) -> HttpStatusError:
    body = e.body if isinstance(e.body, dict) else {}
    detail = body.get("detail")
    if isinstance(detail, dict):
        message = str(detail.get("message") or detail.get("status") or detail)
    elif isinstance(detail, list):
        message = "; ".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in detail)
    else:
        message = str(detail or e.body or "")
    hint = None
    if e.status == 401:
        hint = "check ELEVENLABS_API_KEY (Profile → API keys) and export it again"
    elif e.status == 404:
        hint = "check the character's `voice: {id: ...}` against your ElevenLabs voices"
    elif e.status in (400, 422):
        hint = "fix what ElevenLabs names (the line, the prompt, or the provider settings)"
    return HttpStatusError(
        f"{job.label}: elevenlabs refused the request (HTTP {e.status}): {message}",
        status=e.status,
        body=e.body,
        hint=hint,
    )
