"""The providers vfbuild knows, without importing them: name, the `providers:` slots it can
serve, keys it needs, where it lives. The spec checks `providers:` against this table on every
load, so it must stay cheap (no httpx, no provider module imports), and it sits at the floor of
the house: the spec reads it, and the providers are found through it.

Third parties (and the benchmarks) add providers with `register()`.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ProviderInfo:
    name: str
    slots: frozenset[str]  # the `providers:` slots of shots.yaml it can serve
    factory: str | Callable[..., Any]  # "module:Class", or a callable (registered providers)
    env_keys: tuple[str, ...] = ()
    base_url: str | None = None  # default endpoint; film config and VF_<NAME>_BASE_URL override
    models: dict[str, str] = field(default_factory=dict)  # default model per step
    remote: bool = True
    # Keys that stand alone for all of `env_keys` (Kling's single API key for its older pair).
    alt_keys: tuple[str, ...] = ()

    @property
    def base_url_env(self) -> str:
        return f"VF_{self.name.upper()}_BASE_URL"

    def load(self) -> Callable[..., Any]:
        if callable(self.factory):
            return self.factory
        module, _, attr = self.factory.partition(":")
        return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]

    def missing_keys(self) -> list[str]:
        if any(os.environ.get(k) for k in self.alt_keys):
            return []
        return [k for k in self.env_keys if not os.environ.get(k)]


# The embedded provider: it makes the steps no `providers:` slot serves (the edit).
EMBEDDED = "local"

_ALL = frozenset({"keyframe", "video", "upscale", "lipsync"})
_ALL_STEPS = ("keyframe", "draft", "final", "upscale", "lipsync")
# The sound slots (voice and music steps), served by local, manual and elevenlabs.
_SOUND = frozenset({"voice", "music"})

REGISTRY: dict[str, ProviderInfo] = {
    p.name: p
    for p in (
        ProviderInfo(
            "local",
            _ALL | _SOUND | {"restyle"},
            "vfbuild.providers.local:LocalProvider",
            remote=False,
        ),
        ProviderInfo(
            "fal",
            _ALL,
            "vfbuild.providers.fal:FalProvider",
            env_keys=("FAL_KEY",),
            base_url="https://queue.fal.run",
            models={
                "keyframe": "fal-ai/flux-pro/v1.1",
                "draft": "fal-ai/kling-video/v2.1/standard/image-to-video",
                "final": "fal-ai/kling-video/v2.1/pro/image-to-video",
                "upscale": "fal-ai/topaz/upscale/video",
                "lipsync": "fal-ai/sync-lipsync",
            },
        ),
        ProviderInfo(
            "replicate",
            _ALL,
            "vfbuild.providers.replicate:ReplicateProvider",
            env_keys=("REPLICATE_API_TOKEN",),
            base_url="https://api.replicate.com",
            models={
                "keyframe": "black-forest-labs/flux-1.1-pro",
                "draft": "wavespeedai/wan-2.1-i2v-480p",
                "final": "wavespeedai/wan-2.1-i2v-720p",
                "upscale": "topazlabs/video-upscale",
                "lipsync": "sync/lipsync-2",
            },
        ),
        ProviderInfo(
            "comfyui",
            _ALL,
            "vfbuild.providers.comfyui:ComfyProvider",
            base_url="http://127.0.0.1:8188",
            models={s: "workflow" for s in _ALL_STEPS},
        ),
        ProviderInfo(
            "kling",
            frozenset({"video", "lipsync"}),
            "vfbuild.providers.kling:KlingProvider",
            env_keys=("KLING_ACCESS_KEY", "KLING_SECRET_KEY"),
            alt_keys=("KLING_API_KEY",),
            base_url="https://api-singapore.klingai.com",
            models={"draft": "kling-v2-1", "final": "kling-v2-1", "lipsync": "kling-lipsync"},
        ),
        ProviderInfo(
            "runway",
            frozenset({"video", "upscale"}),
            "vfbuild.providers.runway:RunwayProvider",
            env_keys=("RUNWAYML_API_SECRET",),
            base_url="https://api.dev.runwayml.com",
            models={"draft": "gen4_turbo", "final": "gen4_turbo", "upscale": "upscale_v1"},
        ),
        ProviderInfo(
            "luma",
            frozenset({"keyframe", "video"}),
            "vfbuild.providers.luma:LumaProvider",
            env_keys=("LUMAAI_API_KEY",),
            base_url="https://api.lumalabs.ai",
            models={"keyframe": "photon-1", "draft": "ray-flash-2", "final": "ray-2"},
        ),
        ProviderInfo(
            "sync",
            frozenset({"lipsync"}),
            "vfbuild.providers.syncso:SyncProvider",
            env_keys=("SYNC_API_KEY",),
            base_url="https://api.sync.so",
            models={"lipsync": "lipsync-2"},
        ),
        ProviderInfo(
            "manual",
            _ALL | _SOUND,
            "vfbuild.providers.manual:ManualProvider",
            models={s: "by hand" for s in (*_ALL_STEPS, "voice", "music")},
            remote=False,
        ),
        ProviderInfo(
            "elevenlabs",
            _SOUND,
            "vfbuild.providers.elevenlabs:ElevenLabsProvider",
            env_keys=("ELEVENLABS_API_KEY",),
            base_url="https://api.elevenlabs.io",
            models={"voice": "eleven_multilingual_v2", "music": "music_v1"},
        ),
    )
}


def register(info: ProviderInfo) -> None:
    """Add a provider (a plugin, or the benchmarks' instant one) under `info.name`."""
    REGISTRY[info.name] = info


def info(name: str) -> ProviderInfo:
    return REGISTRY[name]


def names() -> list[str]:
    return list(REGISTRY)


def can_serve(name: str, slot: str) -> bool:
    return slot in REGISTRY[name].slots
