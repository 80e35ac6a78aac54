"""What the provider tests share: input media made with vfbuild's ffmpeg, a fake served to its
provider, a recipe and its key, one take made, the counts of what a fake was asked (POSTs,
creates, downloads), and a job moved to its end. (The `journal` fixture is in conftest.py.)"""

from __future__ import annotations

import contextlib
import hashlib
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

PROMPT = "a yellow sports car climbs a snowy mountain road"


def ffmpeg(*args: str) -> None:
    from vfbuild.media.ffmpeg import ffmpeg_exe

    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", *args], check=True, capture_output=True)


def still(path: Path, size: str) -> Path:
    """A PNG test card, `size` like "640x360"."""
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=size={size}:rate=1", "-frames:v", "1", str(path))
    return path


def clip(path: Path, size: str, seconds: float) -> Path:
    """An H.264 MP4 test card without sound."""
    src = f"testsrc2=size={size}:rate=24:duration={seconds}"
    ffmpeg("-f", "lavfi", "-i", src, "-c:v", "libx264", "-preset", "ultrafast",
           "-pix_fmt", "yuv420p", str(path))  # fmt: skip
    return path


def tone(path: Path, seconds: float) -> Path:
    """A WAV of a 440 Hz tone: a line of dialogue, as far as a provider can tell."""
    ffmpeg("-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}", str(path))
    return path


def quick(cls: Any, **kw: Any) -> Any:
    """A fake of class `cls` whose jobs take 0.1 s and whose Retry-After says 0 s."""
    from tests.fakes.base import Faults

    return cls(latency=0.1, faults=Faults(retry_after="0"), **kw)


@contextlib.contextmanager
def serving(fake: Any, monkeypatch: pytest.MonkeyPatch, keys: dict[str, str]) -> Iterator[Any]:
    """`fake`, started, and the environment pointing its provider at it: base URL and keys."""
    from vfbuild import catalog

    with fake:
        monkeypatch.setenv(catalog.info(fake.name).base_url_env, fake.url)
        for name, value in keys.items():
            monkeypatch.setenv(name, value)
        yield fake


def provider(name: str, film_root: Path | None) -> Any:
    """Provider `name` as a build makes it, with the retries' waits kept short (test_http.py
    tests the real ones)."""
    from vfbuild.providers import get_provider

    prov: Any = get_provider(name, config=None, film_root=film_root)
    prov.http.backoff = 0.01
    return prov


def recipe(
    provider: str,
    step: str,
    settings: dict[str, Any],
    *,
    model: str | None = None,
    ps: dict[str, Any] | None = None,
    prompt: str | None = PROMPT,
    negative: str | None = "blur, low quality",
    seed: int | None = 7,
    take: int = 1,
) -> dict[str, Any]:
    """A recipe as the planner writes one: the catalog's model for the step unless `model`, the
    provider's engine, `settings` with the tier's provider settings `ps`."""
    from vfbuild import catalog

    info = catalog.info(provider)
    return {
        "format": 1,
        "step": step,
        "provider": provider,
        "model": model or info.models[step],
        "engine": {"api": info.load().api},
        "tier": "draft" if step == "draft" else "final",
        "settings": {**settings, "provider_settings": ps or {}},
        "prompt": prompt,
        "negative": negative,
        "seed": seed,
        "take": take,
        "inputs": {},
    }


def make(
    prov: Any, recipe: dict[str, Any], inputs: dict[str, Any], out: Path, journal: Any, **ctx: Any
) -> None:
    """Make one take of `recipe` to `out`, journalled in `journal`, named "s010 <step> t<take>"."""
    from vfbuild.providers.base import MakeContext

    label = f"s010 {recipe['step']} t{recipe['take']:02d}"
    context = MakeContext(key=key_of(recipe), label=label, journal=journal, **ctx)
    prov.make(recipe, inputs, out, context)


def key_of(recipe: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()


def posts(fake: Any) -> int:
    """The requests that could create a job (every POST the fake saw)."""
    return sum(1 for method, _ in fake.log if method == "POST")


def creates(fake: Any) -> int:
    """The requests that asked for a paid job (to a create route, taken or refused)."""
    return sum(1 for method, path in fake.log if fake.route_kind(method, path) == "create")


def downloads(fake: Any) -> int:
    """The downloads of a result: GETs of the CDN's files, or of a route of kind "download"."""
    return sum(
        1
        for method, path in fake.log
        if method == "GET"
        and (path.startswith("/files/") or fake.route_kind(method, path) == "download")
    )


def end_now(job: Any) -> None:
    """Move a fake's job to its end (done, or failed) at once, instead of waiting its latency."""
    job.created = time.monotonic() - job.latency


class Run:
    """One take to make: its recipe and key, its input files, a journal (in `root/.vf`), where
    the take goes, and the provider that makes it."""

    def __init__(self, root: Path, recipe: dict[str, Any], inputs: dict[str, Any]) -> None:
        from vfbuild.store.journal import Journal

        self.recipe, self.inputs, self.step = recipe, inputs, str(recipe["step"])
        self.key = key_of(recipe)
        self.label = f"s010 {self.step} t{recipe['take']:02d}"
        self.journal = Journal(root / ".vf" / "journal")
        self.out = root / f"{self.key[:12]}{'.png' if self.step == 'keyframe' else '.mp4'}"
        self.prov = provider(str(recipe["provider"]), root)

    def make(self, prov: Any = None, **ctx: Any) -> None:
        """Make the take; `prov`: as another build's provider (a new process) would."""
        prov = prov or self.prov
        make(prov, self.recipe, self.inputs, self.out, self.journal, **ctx)

    def job(self, client_id: str = "") -> Any:
        from vfbuild.providers.remote import RemoteJob

        return RemoteJob(self.key, self.recipe, self.inputs, self.label, client_id)

    def state(self) -> str | None:
        entry = self.journal.get(self.key)
        return entry.state if entry else None


def small_take(
    provider: str,
    root: Path,
    files: dict[str, Path],
    step: str,
    *,
    model: str | None = None,
    **ps: Any,
) -> Run:
    """A keyframe or a draft at 128x72 by `provider`, of the `files` fixture's inputs (fal's and
    Replicate's tests): of `model` if given, with provider settings `ps`."""
    settings: dict[str, Any] = {"width": 128, "height": 72}
    inputs: dict[str, Any] = {"references": [files["reference"]]}
    if step == "draft":
        settings |= {"fps": 24, "duration": 4, "move": "push-in"}
        inputs = {"keyframe": files["keyframe"]}
    return Run(root, recipe(provider, step, settings, model=model, ps=ps), inputs)
