"""The `manual` provider: takes made by hand, in tools with no API (Midjourney's web app,
Photoshop, a web lip-sync tool).

For each take to make, the build writes a request in `inbox/<shot>/<step>/` (the composed
prompt, negative prompt, references, settings and the file name it expects) and moves on. A file
the user drops there under that name is ingested by the next build as the take of that recipe:
probed, stored, versioned, logged in prompts.txt and the ledger (at the declared
`cost_per_take`), and the request is marked done. The user's file is left where it is.
"""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path
from typing import Any

from vfbuild.catalog import ProviderInfo
from vfbuild.errors import MediaError
from vfbuild.fsutil import atomic_write_text
from vfbuild.providers.base import Awaiting, InputFiles, MakeContext

INBOX = "inbox"
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp")
VIDEO_EXTS = (".mp4", ".mov")
AUDIO_EXTS = (".wav", ".mp3", ".flac", ".m4a")
AUDIO_STEPS = ("voice", "music")  # their takes are sound files

_lock = threading.Lock()


class ManualProvider:
    name = "manual"
    paid = False  # vfbuild pays nothing; a declared cost per take still reaches the ledger
    deterministic = False
    holds_slot = False
    labels = False
    ledgered = True  # a declared cost per take reaches the ledger
    declares_cost = True
    versions_early = True  # the request names the file to drop, version included
    by_hand = True

    def __init__(
        self,
        info: ProviderInfo,
        *,
        base_url: str | None = None,
        timeout: float = 60.0,
        film_root: Path | None = None,
    ) -> None:
        self.info = info
        self.film_root = film_root or Path(".")

    def model(self, step: str, configured: str | None) -> str:
        return configured or "by hand"

    def engine(self, step: str) -> dict[str, Any]:
        return {}

    def ext(self, step: str) -> str:
        if step in AUDIO_STEPS:
            return ".wav"
        return ".png" if step == "keyframe" else ".mp4"

    def units(self, step: str, seconds: float | None) -> tuple[str, float]:
        return ("take", 1.0)

    def make(
        self, recipe: dict[str, Any], inputs: InputFiles, out: Path, ctx: MakeContext
    ) -> Awaiting | None:
        step = recipe["step"]
        shot = ctx.label.split()[0]
        if shot == step:  # a film step's take (`music t01`): the film's own inbox
            shot = "film"
        folder = self.film_root / INBOX / shot / step
        stem = Path(ctx.expected_name).stem
        exts = (
            AUDIO_EXTS if step in AUDIO_STEPS else IMAGE_EXTS if step == "keyframe" else VIDEO_EXTS
        )
        dropped = next((folder / (stem + e) for e in exts if (folder / (stem + e)).is_file()), None)
        with _lock:
            self._write_request(folder, stem, exts, recipe, inputs, done=dropped is not None)
        rel = folder.relative_to(self.film_root)
        if dropped is None:
            return Awaiting(
                f"{ctx.label}: waiting for you: make it by hand and save it as {rel}/{stem}"
                f"{exts[0]} (the request is {rel}/{stem}.request.md)"
            )
        self._ingest(dropped, out, step)
        return None

    def _ingest(self, dropped: Path, out: Path, step: str) -> None:
        from vfbuild.media.probe import probe

        try:
            info = probe(dropped)
        except MediaError as e:
            raise MediaError(
                f"{dropped}: not readable media: {e.message}",
                hint="save it again from the tool, as PNG/JPEG for stills or MP4 for clips",
            ) from None
        if step in AUDIO_STEPS:
            self._ingest_sound(dropped, out, step, info.has_audio and not info.has_video)
            return
        if step == "keyframe" and not info.is_image:
            raise MediaError(f"{dropped}: a keyframe must be a still image")
        if step != "keyframe" and (info.is_image or not info.has_video):
            raise MediaError(f"{dropped}: a {step} take must be a video clip")
        if step == "keyframe" and dropped.suffix.lower() != ".png":
            from PIL import Image

            with Image.open(dropped) as im:
                im.save(out, format="PNG")
        elif dropped.suffix.lower() == ".mov":
            from vfbuild.media.ffmpeg import run_ffmpeg

            run_ffmpeg(
                [
                    "-i",
                    str(dropped),
                    "-c",
                    "copy",
                    "-movflags",
                    "+faststart",
                    "-f",
                    "mp4",
                    str(out),
                ],
                what=f"ingest {dropped.name}",
            )
        else:
            shutil.copyfile(dropped, out)

    def _ingest_sound(self, dropped: Path, out: Path, step: str, sound_only: bool) -> None:
        from vfbuild.media.ffmpeg import DETERMINISM, run_ffmpeg

        if not sound_only:
            raise MediaError(
                f"{dropped}: a {step} take must be a sound file (audio only)",
                hint=f"export it as one of {', '.join(AUDIO_EXTS)}",
            )
        if dropped.suffix.lower() == ".wav":
            shutil.copyfile(dropped, out)
            return
        run_ffmpeg(
            ["-i", str(dropped), "-vn", "-c:a", "pcm_s16le", *DETERMINISM, "-f", "wav", str(out)],
            what=f"ingest {dropped.name}",
        )

    def _write_request(
        self,
        folder: Path,
        stem: str,
        exts: tuple[str, ...],
        recipe: dict[str, Any],
        inputs: InputFiles,
        *,
        done: bool,
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        settings = {
            k: v for k, v in (recipe.get("settings") or {}).items() if k not in ("label", "notes")
        }
        files = {
            role: [_rel(p, self.film_root) for p in (v if isinstance(v, list) else [v])]
            for role, v in inputs.items()
        }
        lines = [
            f"# {stem}: {'DONE, ingested' if done else 'waiting for you'}",
            "",
            f"Make this take by hand and save it here as `{stem}{exts[0]}` "
            f"(also accepted: {', '.join(stem + e for e in exts[1:])}).",
            "The next `vf build` ingests it as this recipe's take.",
            "",
            f"- step: {recipe['step']} (tier {recipe.get('tier')}), seed {recipe.get('seed')}",
            f"- settings: {json.dumps(settings, sort_keys=True)}",
            "",
            "## Prompt",
            "",
            recipe.get("prompt") or "(none)",
            "",
            "## Negative prompt",
            "",
            recipe.get("negative") or "(none)",
            "",
            "## Input files",
            "",
            *[f"- {role}: {', '.join(v) or '(none)'}" for role, v in files.items()],
            "",
        ]
        path = folder / f"{stem}.request.md"
        text = "\n".join(lines)
        if not path.is_file() or path.read_text() != text:
            atomic_write_text(path, text)


def _rel(path: Path, root: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)  # an input in the store (.vf/objects): give its full path
