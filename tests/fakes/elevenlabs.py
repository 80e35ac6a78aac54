"""A fake ElevenLabs API (api.elevenlabs.io) for tests and film builds.

What it speaks, from ElevenLabs' published API reference:

- auth: `xi-api-key: <key>` on every request; 401 `{"detail": {"status": "invalid_api_key",
  "message": ...}}` otherwise.
- `POST /v1/text-to-speech/{voice_id}?output_format=mp3_44100_128` (`text` required,
  `model_id`, `voice_settings`, `seed`): paid; 200 with the audio (`audio/mpeg`) and the
  headers `history-item-id` and `request-id`; 404 `{"detail": {"status": "voice_not_found"}}`
  for a voice it does not have; 422 `{"detail": [{"loc", "msg", "type"}]}` for a bad body.
- `POST /v1/music?output_format=...` (`prompt`, `music_length_ms` 3000-300000, `model_id`,
  `seed`): paid; 200 with the audio and a `song-id` header (the history item's id here).
- `GET /v1/history?page_size=&start_after_history_item_id=&voice_id=`: newest first,
  `{history: [{history_item_id, request_id, voice_id, model_id, text, date_unix,
  content_type, state, source}], last_history_item_id, has_more}` (music items have `source:
  "Music"` and their prompt as `text`; that music is listed here is an assumption of ours).
- `GET /v1/history/{history_item_id}/audio`: the item's audio.
- injected faults: 429/500/503 with `{"detail": {"status", "message"}}` bodies (429, 503 with
  Retry-After), stalls, drops; a create can be dropped after the generation was made (the
  reply is lost, the generation is in the history and was paid).

The audio is real: a tone of the text's reading length (about 15 characters a second), as an
mp3, made with ffmpeg.
"""

from __future__ import annotations

import hashlib
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from tests.fakes.base import FakeServer, Reply, Request

KEYS: dict[str, str] = {"ELEVENLABS_API_KEY": "sk_" + hashlib.sha256(b"vf 11labs fake").hexdigest()}
VOICES = ("JBFqnCBsd6RMkjVDRZzb", "21m00Tcm4TlvDq8ikWAM", "fake-driver-voice")
TTS_MODELS = ("eleven_multilingual_v2", "eleven_turbo_v2_5", "eleven_flash_v2_5", "eleven_v3")
MUSIC_MODELS = ("music_v1",)
FORMATS = ("mp3_44100_128", "mp3_44100_192", "mp3_22050_32")


def film_providers(fake: ElevenLabsFake, root: Path) -> dict[str, Any]:
    return {"voice": {"use": "elevenlabs"}, "music": {"use": "elevenlabs"}}


class ElevenLabsFake(FakeServer):
    name = "elevenlabs"

    def __init__(self, *, key: str = KEYS["ELEVENLABS_API_KEY"], **kw: Any) -> None:
        self.key = key
        self.history: list[dict[str, Any]] = []  # newest last
        self.audio: dict[str, Path] = {}  # history item id -> its file
        self._history_lock = threading.Lock()
        super().__init__(**kw)

    def setup_routes(self) -> None:
        self.route("POST", r"/v1/text-to-speech/(?P<voice>[^/]+)", self.tts, "create")
        self.route("POST", r"/v1/music", self.music, "create")
        self.route("GET", r"/v1/history", self.list_history)
        self.route("GET", r"/v1/history/(?P<id>[^/]+)/audio", self.item_audio)

    def check_auth(self, req: Request) -> Reply | None:
        if req.headers.get("xi-api-key") != self.key:
            return Reply(
                401,
                {"detail": {"status": "invalid_api_key", "message": "Invalid API key"}},
            )
        return None

    def error_reply(self, status: int) -> Reply:
        status_word = {429: "too_many_concurrent_requests", 503: "service_unavailable"}
        return Reply(
            status,
            {"detail": {"status": status_word.get(status, "internal_error"), "message": "..."}},
        )

    # -- creates ----------------------------------------------------------------------------

    def _body(self, req: Request) -> dict[str, Any] | Reply:
        try:
            body = req.json()
        except (ValueError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            return _invalid("body", "Input should be a valid dictionary")
        fmt = req.query.get("output_format", "mp3_44100_128")
        if fmt not in FORMATS:
            return _invalid("output_format", f"Input should be one of {', '.join(FORMATS)}")
        return body

    def tts(self, req: Request) -> Reply:
        body = self._body(req)
        if isinstance(body, Reply):
            return body
        voice = req.match["voice"]
        if voice not in VOICES:
            return Reply(
                404,
                {"detail": {"status": "voice_not_found", "message": f"no voice {voice}"}},
            )
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            return _invalid("text", "Field required")
        model = body.get("model_id", "eleven_multilingual_v2")
        if model not in TTS_MODELS:
            return Reply(400, {"detail": {"status": "model_not_found", "message": model}})
        seed = body.get("seed")
        if seed is not None and (not isinstance(seed, int) or not 0 <= seed <= 4294967295):
            return _invalid("seed", "Input should be less than or equal to 4294967295")
        seconds = max(0.5, len(text) / 15)
        return self._generate("TTS", voice, model, text, seconds, body)

    def music(self, req: Request) -> Reply:
        body = self._body(req)
        if isinstance(body, Reply):
            return body
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            return _invalid("prompt", "Either a prompt or a composition plan is required")
        ms = body.get("music_length_ms")
        if ms is not None and (not isinstance(ms, int) or not 3000 <= ms <= 300000):
            return _invalid("music_length_ms", "Input should be between 3000 and 300000")
        model = body.get("model_id", "music_v1")
        if model not in MUSIC_MODELS:
            return Reply(400, {"detail": {"status": "model_not_found", "message": model}})
        return self._generate("Music", None, model, prompt, (ms or 30000) / 1000, body)

    def _generate(
        self,
        source: str,
        voice: str | None,
        model: str,
        text: str,
        seconds: float,
        body: dict[str, Any],
    ) -> Reply:
        item_id = uuid.uuid4().hex[:20]
        request_id = uuid.uuid4().hex
        job = self.new_job(item_id, "audio", dict(body), seconds=seconds)
        path = self._mp3(job.id, seconds, job.seed)
        with self._history_lock:
            self.audio[item_id] = path
            self.history.append(
                {
                    "history_item_id": item_id,
                    "request_id": request_id,
                    "voice_id": voice,
                    "model_id": model,
                    "text": text,
                    "date_unix": int(time.time()),
                    "content_type": "audio/mpeg",
                    "state": "created",
                    "source": source,
                }
            )
        headers = {"request-id": request_id}
        headers["song-id" if source == "Music" else "history-item-id"] = item_id
        if source == "Music":
            headers["history-item-id"] = item_id
        return Reply(200, file=path, content_type="audio/mpeg", headers=headers)

    def _mp3(self, name: str, seconds: float, seed: int) -> Path:
        from vfbuild.media.ffmpeg import ffmpeg_exe

        out = self._media_dir / f"{name}.mp3"
        freq = 200 + seed % 400
        subprocess.run(
            [
                ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi",
                "-i", f"sine=frequency={freq}:duration={seconds:.3f}:sample_rate=44100",
                "-c:a", "libmp3lame", "-b:a", "128k", str(out),
            ],
            check=True,
        )  # fmt: skip
        return out

    # -- history ----------------------------------------------------------------------------

    def list_history(self, req: Request) -> Reply:
        try:
            size = int(req.query.get("page_size", "100"))
        except ValueError:
            return _invalid("page_size", "Input should be a valid integer")
        if not 1 <= size <= 1000:
            return _invalid("page_size", "Input should be between 1 and 1000")
        with self._history_lock:
            items = list(reversed(self.history))
        if "voice_id" in req.query:
            items = [i for i in items if i["voice_id"] == req.query["voice_id"]]
        after = req.query.get("start_after_history_item_id")
        if after:
            ids = [i["history_item_id"] for i in items]
            items = items[ids.index(after) + 1 :] if after in ids else []
        page = items[:size]
        return Reply(
            200,
            {
                "history": page,
                "last_history_item_id": page[-1]["history_item_id"] if page else None,
                "has_more": len(items) > size,
            },
        )

    def item_audio(self, req: Request) -> Reply:
        with self._history_lock:
            path = self.audio.get(req.match["id"])
        if path is None:
            return Reply(
                404, {"detail": {"status": "history_item_not_found", "message": "not found"}}
            )
        return Reply(200, file=path, content_type="audio/mpeg")


def _invalid(field: str, msg: str) -> Reply:
    return Reply(422, {"detail": [{"loc": ["body", field], "msg": msg, "type": "value_error"}]})
