"""Who makes a step's takes. Every provider implements the small `Provider` protocol;
`catalog` says which exist without importing them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vfbuild.providers.base import Provider


def get_provider(
    name: str, *, config: Any = None, film_root: Path | None = None, host: Any = None
) -> Provider:
    """An instance of provider `name`, set up from its `providers:` entry in shots.yaml.
    `host` (the film's `hosting.Host`, if it has one) goes to providers that can use it."""
    from vfbuild import catalog
    from vfbuild.errors import UsageError

    try:
        info = catalog.info(name)
    except KeyError:
        raise UsageError(
            f"unknown provider {name!r}", hint=f"known: {', '.join(catalog.names())}"
        ) from None
    factory = info.load()
    if not info.remote and name == "local":
        return factory()  # type: ignore[no-any-return]
    provider = factory(
        info,
        base_url=getattr(config, "base_url", None),
        timeout=getattr(config, "timeout", 60.0),
        film_root=film_root,
    )
    urls = getattr(config, "base_urls", None)
    if urls and hasattr(provider, "use_pool"):
        provider.use_pool(list(urls))
    if host is not None and hasattr(provider, "host"):
        provider.host = host
    return provider  # type: ignore[no-any-return]
