"""Voice cloning: a character's `voice: {sample: references/…}` becomes a voice at ElevenLabs
(Instant Voice Cloning), made once per sample and account.

A clone is a provider call with a cost (ElevenLabs counts a plan's voice slots), so it follows
the journal's rule, never pay twice:

- its voice is named by the sample's content (`vf-<sha256 prefix>`), so the provider itself can
  say whether the clone exists: a new machine, a lost record or a lost reply all find it by name
  (`GET /v1/voices`) instead of cloning again;
- `.vf/voices.json` records each clone by the sample's sha256 (as `.vf/hosted.json` records
  uploads): written as `cloning` before the request (`POST /v1/voices/add`, multipart `name`
  and `files`), and with its `voice_id` after the reply; a recorded voice is used without
  asking anything.

The voice id is the account's, not the film's: it enters no recipe. The recipe holds the
sample's sha256 (`inputs.sample`), so another recording is another voice and other takes.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from vfbuild.errors import ProviderError, SubmitUnknown
from vfbuild.fsutil import atomic_write_text, sha256_file
from vfbuild.media.types import media_type
from vfbuild.providers.http import Http
from vfbuild.store import vfdir

NAME_PREFIX = "vf-"
CLONING, CLONED = "cloning", "cloned"


def clone_name(sha256: str) -> str:
    """The provider-side name of the voice cloned from a sample with this content."""
    return NAME_PREFIX + sha256[:24]


class Clones:
    """The voices cloned from samples, for one provider and film; safe for the build's threads
    (one sample is cloned once even when several shots wait for it)."""

    def __init__(self, provider: str, http: Http, film_root: Path | None) -> None:
        self.provider, self.http = provider, http
        self.path = vfdir.at(film_root, vfdir.VOICES) if film_root is not None else None
        self._lock = threading.Lock()
        self._per_sample: dict[str, threading.Lock] = {}
        self._memory: dict[str, dict[str, Any]] = {}  # without a film (tests, the library)

    def voice_for(self, sample: Path, label: str) -> str:
        """The voice id cloned from `sample`: recorded, found at the provider, or made now."""
        sha = sha256_file(sample)
        key = f"{self.provider}:{sha}"
        with self._lock:
            sample_lock = self._per_sample.setdefault(sha, threading.Lock())
        with sample_lock:
            known = self._records().get(key)
            if known is not None and known.get("voice_id"):
                return str(known["voice_id"])
            name = clone_name(sha)
            found = self._find(name, label)
            if found is None:
                self._write(key, {"state": CLONING, "name": name, "since": time.time()})
                found = self._clone(sample, name, label)
            self._write(key, {"state": CLONED, "name": name, "voice_id": found})
            return found

    def _find(self, name: str, label: str) -> str | None:
        page = self.http.get_json("/v1/voices", what=f"{label}: list voices")
        for voice in page.get("voices") or [] if isinstance(page, dict) else []:
            if isinstance(voice, dict) and voice.get("name") == name and voice.get("voice_id"):
                return str(voice["voice_id"])
        return None

    def _clone(self, sample: Path, name: str, label: str) -> str:
        files = {"files": (sample.name, sample.read_bytes(), media_type(sample))}
        data = {
            "name": name,
            "description": "cloned by vfbuild from a film's voice sample",
            "remove_background_noise": "false",
        }
        try:
            resp = self.http.request(
                "POST",
                "/v1/voices/add",
                what=f"{label}: clone the voice of {sample.name}",
                creates=True,
                data=data,
                files=files,
            )
        except SubmitUnknown as e:
            # The clone may have been made: its name says so, and then it is used.
            found = self._find(name, label)
            if found is None:
                raise ProviderError(
                    e.message,
                    hint=f"the next build looks for the voice {name} before cloning again",
                ) from None
            return found
        reply = resp.json()
        voice = reply.get("voice_id") if isinstance(reply, dict) else None
        if not voice:
            raise ProviderError(f"{label}: {self.provider} cloned no voice: {str(reply)[:200]}")
        return str(voice)

    # -- the record -------------------------------------------------------------------------

    def _records(self) -> dict[str, dict[str, Any]]:
        if self.path is None:
            return self._memory
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}  # no record: the provider's list of voices is the truth
        return data if isinstance(data, dict) else {}

    def _write(self, key: str, entry: dict[str, Any]) -> None:
        with self._lock:
            records = self._records()
            records[key] = entry
            if self.path is None:
                self._memory = records
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.path, json.dumps(records, indent=1, sort_keys=True))
