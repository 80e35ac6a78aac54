from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.providers import kit
from vfbuild.store.journal import Journal


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / ".vf" / "journal")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A keyframe (128x72) and a reference (64x64): the inputs of `kit.small_take`."""
    d = tmp_path_factory.mktemp("inputs")
    return {
        "keyframe": kit.still(d / "kf.png", "128x72"),
        "reference": kit.still(d / "ref.png", "64x64"),
    }


@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Any]]:
    """`serve(FakeClass, KEYS, **kw)`: a quick fake (`kit.quick`), started for the test, with the
    environment pointing its provider at it; stopped when the test ends."""
    with contextlib.ExitStack() as stack:

        def start(cls: Any, keys: dict[str, str], **kw: Any) -> Any:
            return stack.enter_context(kit.serving(kit.quick(cls, **kw), monkeypatch, keys))

        yield start


@pytest.fixture
def prov(fake: Any, tmp_path: Path) -> Any:
    """The provider of the module's `fake` fixture, as a build makes it (`kit.provider`)."""
    return kit.provider(fake.name, tmp_path)
