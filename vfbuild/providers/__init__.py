"""Who makes a step's takes. Every provider implements the small `Provider` protocol."""

from __future__ import annotations

from vfbuild.providers.base import Provider


def get_provider(name: str) -> Provider:
    if name == "local":
        from vfbuild.providers.local import LocalProvider

        return LocalProvider()
    from vfbuild.errors import UsageError

    raise UsageError(f"unknown provider {name!r}")
