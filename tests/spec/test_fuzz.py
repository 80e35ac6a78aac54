"""Fuzz: hundreds of seeded mutations of the example's shots.yaml, of a lock, a journal entry
and a ledger row. Whatever the bytes, `vf` answers with a clear error or works: never an
internal error (exit 70), never a traceback, never a hang (each run has 10 s).

Runs in process through `vfbuild.cli.main` (a handful through a subprocess), so the ~450 runs
take a few seconds; the mutations are fixed by their seeds, so a failure repeats."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE, REPO, copy_film
from vfbuild import cli
from vfbuild.store.ledger import COLUMNS

# A mutation that repeats an anchor is valid YAML; ruamel's round trip only warns about it.
pytestmark = pytest.mark.filterwarnings("ignore::ruamel.yaml.error.ReusedAnchorWarning")
LIMIT_S = 10
JUNK = [b"\xff", b"\xfe\xff", b"\x00", b"\t", b"\r", b"[", b"{", b"]", b"}", b":", b": ", b"- ",
        b"&a ", b"*a", b"*b ", b"!!binary ", b"!!python/object:os.system ", b"? ", b"|", b">-",
        b'"', b"'", b"#", b"%YAML 1.1\n", b"---\n", b"...\n", b"\xe2\x80\xa8", b"\xef\xbb\xbf",
        b"<<: *a\n", b"\\", b"~", b"\n"]  # fmt: skip
VALUES = [b"[]", b"{}", b"-1", b"0", b"1e999", b".nan", b"-.inf", b"null", b"~", b"true",
          b"2024-01-01", b"0x1F", b"'5'", b'"\\u0000"', b"!!binary AAAA", b"*nope", b"&x y",
          b"[[[[[[", b"{a: {b: {c: ", b"99999999999999999999999", b"../../etc/passwd",
          b"/etc/passwd", b"prompts/../../x.txt", b"references/nope.png", b"x" * 5000,
          b"!!python/object/apply:os.system ['touch /tmp/vf-pwned']"]  # fmt: skip


def _bomb(rng: random.Random) -> bytes:
    levels = rng.randint(6, 10)
    lines = [b"b0: &b0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        lines.append(b"b%d: &b%d [" % (i, i) + b", ".join([b"*b%d" % (i - 1)] * 9) + b"]")
    return b"\n".join(lines) + b"\n"


def _deep(rng: random.Random) -> bytes:
    n = rng.choice([150, 1000, 5000, 50_000])
    kind = rng.randrange(4)
    if kind == 0:
        return b"deep: " + b"[" * n + b"]" * n + b"\n"
    if kind == 1:
        return b"deep: " + b"{a: " * n + b"1" + b"}" * n + b"\n"
    if kind == 2:
        return b"deep:\n" + b"".join(b"  " * i + b"k:\n" for i in range(1, min(n, 3000)))
    return b"deep:\n" + b"- " * min(n, 5000) + b"x\n"


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def _mutate(rng: random.Random, data: bytes) -> bytes:
    """One to three random edits of `data`."""
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        kind = rng.randrange(12)
        lines = _lines(data)
        i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
        if kind == 0:  # truncation at a random offset
            data = data[: rng.randrange(len(data) + 1)]
        elif kind == 1:  # junk bytes somewhere
            at = rng.randrange(len(data) + 1)
            data = data[:at] + b"".join(rng.choices(JUNK, k=rng.randint(1, 4))) + data[at:]
        elif kind == 2:  # a wrong value where one was
            if b": " in lines[i]:
                key = lines[i].split(b": ", 1)[0]
                lines[i] = key + b": " + rng.choice(VALUES)
            data = b"\n".join(lines)
        elif kind == 3:  # a duplicated line: duplicate keys, a second item
            lines.insert(i, lines[i])
            data = b"\n".join(lines)
        elif kind == 4:  # values swapped between two lines
            if b": " in lines[i] and b": " in lines[j]:
                ki, vi = lines[i].split(b": ", 1)
                kj, vj = lines[j].split(b": ", 1)
                lines[i], lines[j] = ki + b": " + vj, kj + b": " + vi
            data = b"\n".join(lines)
        elif kind == 5:  # a line removed
            del lines[i]
            data = b"\n".join(lines)
        elif kind == 6:  # a line moved
            lines.insert(j, lines.pop(i))
            data = b"\n".join(lines)
        elif kind == 7:  # indentation shifted
            lines[i] = (b" " * rng.randint(1, 3) + lines[i]) if rng.random() < 0.5 else lines[i][2:]
            data = b"\n".join(lines)
        elif kind == 8:  # an alias bomb, added
            data = data + b"\n" + _bomb(rng)
        elif kind == 9:  # deep nesting, added
            data = data + b"\n" + _deep(rng)
        elif kind == 10:  # an anchor on one value and aliases (maybe recursive) elsewhere
            if b": " in lines[i]:
                key, value = lines[i].split(b": ", 1)
                lines[i] = key + b": &a " + value
                lines[j] = lines[j].split(b": ", 1)[0] + b": *a" if b": " in lines[j] else b"x: *a"
            data = b"\n".join(lines)
        else:  # a random byte flipped
            if data:
                at = rng.randrange(len(data))
                data = data[:at] + bytes([rng.randrange(256)]) + data[at + 1 :]
    return data


class Hang(Exception):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise Hang(f"vf did not answer within {LIMIT_S} s")


@pytest.fixture
def bounded() -> Iterator[None]:
    old = signal.signal(signal.SIGALRM, _alarm)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _vf(film: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    signal.setitimer(signal.ITIMER_REAL, LIMIT_S)
    try:
        code = cli.main(["-C", str(film), *args])
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    out = capsys.readouterr()
    return code, out.out + out.err


def _assert_clear(code: int, said: str, what: str) -> None:
    assert code != 70, f"{what}: internal error\n{said}"
    assert "Traceback" not in said and "internal error" not in said, f"{what}\n{said}"
    if code != 0:
        assert said.strip(), f"{what}: exit {code} without a word"


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_film(EXAMPLE, tmp_path_factory.mktemp("fuzz") / "film")


def _fuzz_file(
    film: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    seeds: range,
    commands: Callable[[int], list[list[str]]],
) -> int:
    path = film / name
    original = path.read_bytes()
    runs = 0
    try:
        for seed in seeds:
            rng = random.Random(f"{name}:{seed}")
            mutated = _mutate(rng, original)
            path.write_bytes(mutated)
            for args in commands(seed):
                code, said = _vf(film, capsys, *args)
                _assert_clear(code, said, f"{name} seed {seed}: vf {' '.join(args)}")
                runs += 1
    finally:
        path.write_bytes(original)
    assert not Path("/tmp/vf-pwned").exists()
    return runs


@pytest.mark.parametrize("chunk", range(4))
def test_fuzz_shots_yaml(
    example: Path, capsys: pytest.CaptureFixture[str], bounded: None, chunk: int
) -> None:
    # Every mutation is checked; every eighth is planned too, and every eighth shown by status.
    def commands(seed: int) -> list[list[str]]:
        extra = [["plan"]] if seed % 8 == 0 else [["status"]] if seed % 8 == 1 else []
        return [["check"], *extra]

    seeds = range(chunk * 80, (chunk + 1) * 80)
    assert _fuzz_file(example, capsys, "shots.yaml", seeds, commands) >= 80


def test_fuzz_a_lock(example: Path, capsys: pytest.CaptureFixture[str], bounded: None) -> None:
    def commands(seed: int) -> list[list[str]]:
        return [["status"]] if seed % 2 else [["plan", "--frozen"]]

    assert _fuzz_file(example, capsys, "locks/s010.yaml", range(70), commands) == 70


def _journal_entry() -> bytes:
    key = "ab" * 32
    entry = {
        "key": key, "provider": "fal", "model": "fal-ai/flux/dev", "label": "s010 keyframe t01",
        "state": "submitted", "attempt": 1, "client_id": "c", "job_id": "req-1", "error": None,
        "cost": 0.04, "sha256": None, "times": {"submitted": 1.5},
    }  # fmt: skip
    return json.dumps(entry, indent=1).encode()


def test_fuzz_a_journal_entry(
    example: Path, capsys: pytest.CaptureFixture[str], bounded: None
) -> None:
    name = f".vf/journal/{'ab' * 32}.json"
    (example / name).parent.mkdir(parents=True, exist_ok=True)
    (example / name).write_bytes(_journal_entry())
    try:
        # `vf cancel` would call fal for a whole entry: `jobs` reads the same entries.
        assert _fuzz_file(example, capsys, name, range(60), lambda s: [["jobs"]]) == 60
    finally:
        (example / name).unlink()


def test_fuzz_a_ledger_row(
    example: Path, capsys: pytest.CaptureFixture[str], bounded: None
) -> None:
    row = f"2026-01-01T00:00:00Z,s010,keyframe,1,1,fal,fal-ai/flux/dev,{'ab' * 32},req-1,0.0400"
    (example / "ledger.csv").write_text(",".join(COLUMNS) + "\n" + row + "\n" + row + "\n")
    try:
        assert _fuzz_file(example, capsys, "ledger.csv", range(60), lambda s: [["cost"]]) == 60
    finally:
        (example / "ledger.csv").unlink()


def test_fuzz_through_a_subprocess(tmp_path: Path) -> None:
    """A few of the same mutations as a user runs them: a fresh process each time."""
    film = copy_film(EXAMPLE, tmp_path / "film")
    original = (film / "shots.yaml").read_bytes()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for seed in (1, 8, 33):
        (film / "shots.yaml").write_bytes(_mutate(random.Random(f"shots.yaml:{seed}"), original))
        proc = subprocess.run(
            [sys.executable, "-m", "vfbuild", "-C", str(film), "check"],
            capture_output=True,
            text=True,
            env=env,
            timeout=LIMIT_S * 3,
        )
        _assert_clear(proc.returncode, proc.stdout + proc.stderr, f"subprocess seed {seed}")
    shutil.rmtree(film)
