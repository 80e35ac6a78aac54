"""Running the tiny film through a provider's fake, as a user would: `vf plan`, `vf build`,
`vf pick`, with the key in the environment and VF_<PROVIDER>_BASE_URL pointing at the fake."""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from tests.e2e.film import make_film, vf
from tests.fakes.base import FakeServer, Faults
from vfbuild.fsutil import sha256_file
from vfbuild.store.ledger import Ledger

FAKES = {
    "fal": ("tests.fakes.fal", "FalFake"),
    "replicate": ("tests.fakes.replicate", "ReplicateFake"),
    "comfyui": ("tests.fakes.comfyui", "ComfyFake"),
    "kling": ("tests.fakes.kling", "KlingFake"),
    "runway": ("tests.fakes.runway", "RunwayFake"),
    "luma": ("tests.fakes.luma", "LumaFake"),
    "elevenlabs": ("tests.fakes.elevenlabs", "ElevenLabsFake"),
}


@dataclass
class RemoteFilm:
    root: Path
    fake: FakeServer
    provider: str
    env: dict[str, str]
    keys: dict[str, str]

    def vf(self, *args: str, check: bool = True) -> Any:
        return vf(self.root, *args, env=self.env, check=check)

    def planned(self, *args: str) -> tuple[int, float]:
        """(takes this provider would make, estimated cost of everything) from `vf plan`."""
        takes, cost = planned(self.vf("plan", *args).stdout)
        return takes.get(self.provider, 0), cost

    def ledger_total(self) -> float:
        return round(sum(float(r.cost or 0) for r in Ledger(self.root).rows()), 4)

    def pick_all(self, step: str, take: int = 1) -> None:
        for sid in ("s010", "s020", "s030"):
            self.vf("pick", sid, step, str(take))


def planned(plan_output: str) -> tuple[dict[str, int], float]:
    """Takes to make per provider, and the estimated total, read from `vf plan`'s output."""
    takes: dict[str, int] = {}
    for line in plan_output.splitlines():
        # `shot step state provider/model N take(s) $cost reasons…` (reasons may count too)
        words = line.split()
        if len(words) > 5 and words[4].isdigit() and words[5] == "take(s)":
            who = words[3].split("/")[0]
            takes[who] = takes.get(who, 0) + int(words[4])
    cost = re.search(r"estimated cost \$([0-9.]+)", plan_output)
    return takes, float(cost.group(1)) if cost else 0.0


def fake_module(provider: str) -> Any:
    return importlib.import_module(FAKES[provider][0])


@contextmanager
def remote_film(
    tmp_path: Path,
    provider: str,
    *,
    latency: float = 0.05,
    faults: Faults | None = None,
    slots: tuple[str, ...] | None = None,
    timeout: float = 5.0,
) -> Iterator[RemoteFilm]:
    """The tiny film with `provider` serving every slot it can (or `slots`), behind its fake."""
    mod = fake_module(provider)
    cls = getattr(mod, FAKES[provider][1])
    with cls(latency=latency, faults=faults or Faults(retry_after="0")) as fake:
        if hasattr(fake, "upscale_max_side"):
            fake.upscale_max_side = 1280  # Runway's 4x would make 4K clips: slow, proves nothing
        root = make_film(tmp_path / "film")
        providers = mod.film_providers(fake, root)
        if slots is not None:
            providers = {k: v for k, v in providers.items() if k in slots}
        for choice in providers.values():
            choice["timeout"] = timeout
        yaml = YAML()
        doc = yaml.load(root / "shots.yaml")
        doc.insert(1, "providers", providers)
        # Real providers refuse thumbnails (Kling wants 300 px a side): a small but real size.
        doc["film"]["tiers"] = {"draft": "320x180", "final": "640x360"}
        doc["film"]["delivery"] = "640x360"
        yaml.dump(doc, root / "shots.yaml")
        env = {**mod.KEYS, f"VF_{provider.upper()}_BASE_URL": fake.url}
        yield RemoteFilm(root, fake, provider, env, dict(mod.KEYS))


@dataclass
class MixedFilm:
    """The example film (picks made afresh) with its slots on several providers' fakes."""

    root: Path
    fakes: dict[str, FakeServer]
    env: dict[str, str]
    logs: list[str] = field(default_factory=list)  # every build's stdout and stderr

    def build_in_stages(self, shots: tuple[str, ...]) -> tuple[dict[str, int], float]:
        """Keyframes, drafts (picking take 2 of each), finals, as a user goes: `vf plan`, then
        `vf -v build -j 4`. Returns the takes the plans named per provider, and their cost."""
        total = {name: 0 for name in self.fakes}
        estimate = 0.0
        for stage, args in (("keyframe", ("--tier", "draft")), ("draft", ("--tier", "draft")),
                            ("final", ())):  # fmt: skip
            takes, cost = planned(vf(self.root, "plan", *shots, *args, env=self.env).stdout)
            estimate += cost
            for name in self.fakes:
                total[name] += takes.get(name, 0)
            run = vf(self.root, "-v", "build", "-j", "4", *shots, *args, env=self.env)
            self.logs += [run.stdout, run.stderr]
            for sid in shots if stage != "final" else ():
                vf(self.root, "pick", sid, stage, "2", env=self.env)
        return total, estimate


def mixed_film(
    stack: ExitStack, root: Path, slots: dict[str, str], extra: dict[str, Any] | None = None
) -> MixedFilm:
    """Start a fake per provider named in `slots` (slot -> provider) and write the film's
    `providers:` for them (plus `extra` entries); the fakes stop with `stack`."""
    from tests.conftest import EXAMPLE, copy_film

    film = copy_film(EXAMPLE, root)
    for lock in (film / "locks").glob("*.yaml"):
        lock.unlink()
    fakes: dict[str, FakeServer] = {}
    env: dict[str, str] = {}
    providers: dict[str, Any] = {}
    for slot, name in slots.items():
        mod = fake_module(name)
        if name not in fakes:
            cls = getattr(mod, FAKES[name][1])
            fakes[name] = stack.enter_context(cls(latency=0.05, faults=Faults(retry_after="0")))
            env |= {**mod.KEYS, f"VF_{name.upper()}_BASE_URL": fakes[name].url}
        providers[slot] = mod.film_providers(fakes[name], film)[slot]
    yaml = YAML()
    doc = yaml.load(film / "shots.yaml")
    doc["providers"] = providers | (extra or {})
    # s050 speaks its recorded line: a paid lip-sync that waits for a voice take made in the
    # same build is not in that build's plan yet (the plan counts it once the reading exists),
    # and these tests hold the plan to what was paid.
    for shot in doc["shots"]:
        if shot.get("dialogue") is not None and "audio" not in shot["dialogue"]:
            shot["dialogue"] = {"audio": "04_Audio/s050_line.wav"}
    yaml.dump(doc, film / "shots.yaml")
    return MixedFilm(film, fakes, env)


def assert_store_and_layout_whole(root: Path) -> None:
    """No partial object, no temp file left, every layout file a stored artifact."""
    objects = root / ".vf" / "objects"
    stored = set()
    for p in objects.rglob("*"):
        if p.is_file():
            assert sha256_file(p) == p.name, f"corrupt object {p}"
            stored.add(p.name)
    tmp = root / ".vf" / "tmp"
    assert not tmp.exists() or not any(tmp.iterdir()), list(tmp.iterdir())
    debris = [p for p in root.rglob(".vf-tmp-*")]
    assert debris == [], debris
    for top in ("01_Source_Images", "03_Generations", "05_Upscaled", "06_Edit"):
        for p in (root / top).rglob("*"):
            if p.is_file() and "_polished" not in p.name:
                assert sha256_file(p) in stored, f"{p} is not a stored artifact"


def assert_no_secret(root: Path, texts: list[str], keys: dict[str, str]) -> None:
    for value in keys.values():
        needle = value.encode()
        for text in texts:
            assert value not in text
        for p in root.rglob("*"):
            if p.is_file() and p.stat().st_size < 50_000_000:
                assert needle not in p.read_bytes(), f"{p} holds a key"
