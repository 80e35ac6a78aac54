"""A real offline voice: eSpeak NG, from the `espeakng-loader` wheel (it ships
`libespeak-ng.so` and its voice data, so pip alone installs it), called through ctypes.

eSpeak NG is a formant synthesiser: robotic, but real speech of the words, and deterministic
(the same text, voice, rate and pitch give the same samples in every process; checked in
tests/media/test_sound.py). The library keeps global state, so every reading holds one lock.
The engine's version goes into the recipe (`identity`).
"""

from __future__ import annotations

import ctypes
import functools
import subprocess
import sys
import threading
import wave
from pathlib import Path
from typing import Any

from vfbuild.errors import MediaError

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_ESPEAK_CHARS_UTF8 = 1
_ESPEAK_RATE, _ESPEAK_PITCH = 1, 3
_POS_CHARACTER = 1
DEFAULT_VOICE = "en-us"
DEFAULT_RATE = 160  # words per minute
DEFAULT_PITCH = 50  # 0-99
_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)
_lock = threading.Lock()


class _Engine:
    def __init__(self) -> None:
        try:
            import espeakng_loader  # type: ignore[import-untyped]
        except ImportError as e:  # a dependency of vfbuild: only a broken install lacks it
            raise MediaError(
                "the local voice needs the espeakng-loader package",
                hint="pip install espeakng-loader",
            ) from e
        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Info.restype = ctypes.c_char_p
        lib.espeak_Info.argtypes = [ctypes.c_void_p]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        self.data = espeakng_loader.get_data_path().encode()
        self.lib = lib
        self.chunks: list[bytes] = []
        # Kept on the engine: ctypes must not free the callback while the library holds it.
        self._callback = _CALLBACK(self._hear)
        self.rate = self._start()
        self.version = (lib.espeak_Info(None) or b"?").decode()

    def _start(self) -> int:
        rate: int = self.lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, self.data, 0)
        if rate <= 0:
            raise MediaError("eSpeak NG did not start", hint=f"its data is at {self.data!r}")
        self.lib.espeak_SetSynthCallback(self._callback)
        return rate

    def _hear(self, wav: Any, n: int, events: Any) -> int:
        if wav and n > 0:
            self.chunks.append(ctypes.string_at(wav, n * 2))
        return 0  # go on

    def speak(self, text: str, voice: str, rate: int, pitch: int) -> bytes:
        if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise MediaError(
                f"eSpeak NG has no voice {voice!r}",
                hint="use a voice such as en, en-us, en-gb-x-rp, fr or de, or one with a "
                "variant: en+m3, en-us+f3",
            )
        self.lib.espeak_SetParameter(_ESPEAK_RATE, rate, 0)
        self.lib.espeak_SetParameter(_ESPEAK_PITCH, pitch, 0)
        self.chunks = []
        raw = text.encode("utf-8")
        err = self.lib.espeak_Synth(
            raw, len(raw) + 1, 0, _POS_CHARACTER, 0, _ESPEAK_CHARS_UTF8, None, None
        )
        self.lib.espeak_Synchronize()
        if err != 0:
            raise MediaError(f"eSpeak NG could not read the line (error {err})")
        return b"".join(self.chunks)


@functools.cache
def _engine() -> _Engine:
    return _Engine()


def identity() -> dict[str, str]:
    """What the voice's bytes depend on besides the recipe: the engine and its version."""
    with _lock:
        return {"espeak-ng": _engine().version}


def take_params(settings: dict[str, Any], take: int) -> tuple[int, int]:
    """Rate and pitch of reading `take`: take 1 reads at the voice's own settings, the others
    a little slower or faster and higher or lower, so the takes are different readings."""
    rate = int(settings.get("rate", DEFAULT_RATE))
    pitch = int(settings.get("pitch", DEFAULT_PITCH))
    if take > 1:
        step = take - 1
        rate += (-1) ** step * 8 * ((step + 1) // 2)
        pitch += (-1) ** (step + 1) * 6 * ((step + 1) // 2)
    return max(80, min(450, rate)), max(0, min(99, pitch))


def speak(out: Path, text: str, *, voice: str, rate: int, pitch: int) -> float:
    """Read `text` aloud into a mono 16-bit wav at `out`; returns its length in seconds.

    Each reading runs in a fresh process: the synthesiser carries state from one reading to
    the next (the same line read twice in one process gave two different files, and a
    re-initialised engine too), while fresh processes agree to the byte."""
    code = "from vfbuild.providers.local.speech import _main; _main()"
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code, str(out), voice, str(rate), str(pitch)],
            input=text.encode("utf-8"),
            capture_output=True,
            timeout=120,
        )
    except (OSError, subprocess.SubprocessError) as e:
        raise MediaError("cannot start the local voice (eSpeak NG)", hint=str(e)) from e
    if proc.returncode != 0:
        last = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["?"]
        raise MediaError(f"the local voice could not read {text[:40]!r}", hint=last[0])
    return float(proc.stdout.decode().strip() or 0)


def _speak_here(out: Path, text: str, *, voice: str, rate: int, pitch: int) -> float:
    with _lock:
        engine = _engine()
        samples = engine.speak(text, voice, rate, pitch)
        sample_rate = engine.rate
    if not samples:
        raise MediaError(f"eSpeak NG read nothing aloud for {text[:40]!r}")
    with wave.open(str(out), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(samples)
    return float(len(samples) / 2 / sample_rate)


def _main() -> None:
    """One reading: argv is OUT VOICE RATE PITCH, the text comes on stdin."""
    out, voice, rate, pitch = sys.argv[1:5]
    text = sys.stdin.buffer.read().decode("utf-8")
    try:
        seconds = _speak_here(Path(out), text, voice=voice, rate=int(rate), pitch=int(pitch))
    except MediaError as e:
        print(f"{e.message}{f' ({e.hint})' if e.hint else ''}", file=sys.stderr)
        raise SystemExit(1) from None
    print(f"{seconds:.6f}")
