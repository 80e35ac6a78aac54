"""The journal, the ledger and the caches are read as input too: a damaged journal entry or
ledger row is a clear error naming its file (and line:col), a damaged cache is a miss, and a
digest or key read from any of them never becomes a path outside the store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.film import make_film
from vfbuild import cli
from vfbuild.errors import JournalError, LedgerError
from vfbuild.store.hashcache import HashCache
from vfbuild.store.index import RecipeIndex
from vfbuild.store.journal import SUBMITTED, Journal
from vfbuild.store.ledger import COLUMNS, Ledger

KEY = "ab" * 32


def _entry(**changes: object) -> str:
    entry = {
        "key": KEY,
        "provider": "fal",
        "model": "fal-ai/flux/dev",
        "label": "s010 keyframe t01",
        "state": SUBMITTED,
        "attempt": 1,
        "client_id": "c",
        "job_id": "req-1",
        "error": None,
        "cost": 0.04,
        "sha256": None,
        "times": {"submitted": 1.5},
    }
    return json.dumps({**entry, **changes}, indent=1)


def _journal(tmp_path: Path, text: str | bytes) -> Journal:
    folder = tmp_path / "journal"
    folder.mkdir(exist_ok=True)
    path = folder / f"{KEY}.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return Journal(folder)


def test_a_whole_journal_entry_reads(tmp_path: Path) -> None:
    entry = _journal(tmp_path, _entry()).get(KEY)
    assert entry is not None and entry.job_id == "req-1"


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('{"key": "ab",\n "state": submitted}', ".json:2:11: job journal entry is not valid JSON"),
        (b'{"key": "\xff"}', "is not UTF-8 text"),
        ("[1, 2]", "is not a JSON object"),
        ("[" * 100_000, "nested too deep"),
        (_entry(attempt="one"), "attempt of the wrong type"),
        (_entry(times=[]), "times of the wrong type"),
        (_entry(cost=float("nan")).replace("NaN", "1e999"), "cost that is not a price"),
        (_entry(state="paid"), "unknown state 'paid'"),
        (_entry(extra=1), "unknown fields extra"),
        (_entry(key="../../../../x"), "another recipe key"),
        (_entry(sha256="../../etc/passwd"), "sha256 that is not a digest"),
        (json.dumps({"key": KEY}), "lacks provider, model, label, state"),
    ],
)
def test_a_damaged_journal_entry_is_a_clear_error(
    tmp_path: Path, text: str | bytes, said: str
) -> None:
    with pytest.raises(JournalError) as info:
        _journal(tmp_path, text).get(KEY)
    out = info.value.render()
    assert f"journal/{KEY}.json" in out and said in out, out
    assert "dashboard" in out  # it records a paid job: what to do before removing it


def _ledger(tmp_path: Path, *rows: str) -> Ledger:
    (tmp_path / "ledger.csv").write_text(",".join(COLUMNS) + "\n" + "".join(rows))
    return Ledger(tmp_path)


ROW = "2026-01-01T00:00:00Z,s010,draft,1,1,fal,m,{key},req-1,{cost}\n"


def test_a_ledger_row_whose_cost_is_not_a_number_names_its_line(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path, ROW.format(key=KEY, cost="0.2800"), ROW.format(key=KEY, cost="lots"))
    with pytest.raises(LedgerError, match=r"ledger\.csv:3:\d+: the cost 'lots' is not a number"):
        ledger.rows()
    # The build only needs to know which jobs are recorded: it goes on.
    assert len(ledger.rows(strict=False)) == 2
    assert not ledger.append(
        shot="s010", step="draft", version=1, take=1, provider="fal", model="m",
        recipe_key=KEY, job_id="req-1", cost=0.28,
    )  # fmt: skip


@pytest.mark.parametrize("cost", ["nan", "inf"])
def test_a_cost_that_is_no_amount_is_refused(tmp_path: Path, cost: str) -> None:
    with pytest.raises(LedgerError, match="is not a number of dollars"):
        _ledger(tmp_path, ROW.format(key=KEY, cost=cost)).rows()


def test_a_ledger_with_a_broken_header_or_bytes_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "ledger.csv").write_text("when,who\n" + ROW.format(key=KEY, cost="1"))
    with pytest.raises(LedgerError, match=r"ledger\.csv:1:1: the header"):
        Ledger(tmp_path).rows()
    (tmp_path / "ledger.csv").write_bytes(b"time\xff\n")
    with pytest.raises(LedgerError, match=r"ledger\.csv:1:5: not valid UTF-8"):
        Ledger(tmp_path).rows()


def test_recipe_index_records_that_name_paths_are_misses(tmp_path: Path) -> None:
    index = RecipeIndex(tmp_path / "recipes")
    for body in (
        {"sha256": "../../../../etc/passwd", "ext": ".png", "size": 1},
        {"sha256": "ab" * 32, "ext": "/../../x", "size": 1},
        [1, 2, 3],
        "[" * 100_000,
    ):
        path = tmp_path / "recipes" / KEY[:2] / f"{KEY}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body if isinstance(body, str) else json.dumps(body))
        assert index.lookup(KEY) is None
    by_sha = tmp_path / "recipes" / "by-sha" / KEY
    by_sha.parent.mkdir(parents=True)
    by_sha.write_text("../../../../etc/passwd\n")
    assert index.recipe_for_sha(KEY) is None
    assert index.recipe_for_sha("../../etc/passwd") is None


@pytest.mark.parametrize("text", ["[1, 2]", '{"x": 5}', '{"x": [1, 2, 3, "../x"]}', "[" * 100_000])
def test_a_damaged_hash_cache_is_a_miss(tmp_path: Path, text: str) -> None:
    f = tmp_path / "x"
    f.write_text("hello")
    st = f.stat()
    cache = tmp_path / "hashes.json"
    cache.write_text(
        text.replace('"x"', json.dumps(str(f))).replace(
            "1, 2, 3", f"{st.st_size}, {st.st_mtime_ns}, {st.st_ino}"
        )
    )
    digest = HashCache(cache).sha256(f)
    assert digest == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"


# -- through the commands, in process -------------------------------------------------------


@pytest.fixture(scope="module")
def film(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_film(tmp_path_factory.mktemp("records") / "film")


def _vf(film: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = cli.main(["-C", str(film), *args])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_jobs_and_cancel_name_a_journal_entry_that_is_not_json(
    film: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = film / ".vf" / "journal"
    journal.mkdir(parents=True, exist_ok=True)
    (journal / f"{KEY}.json").write_text("{not json")
    try:
        for command in ("jobs", "cancel"):
            code, said = _vf(film, capsys, command)
            assert code == 2, said
            assert f".vf/journal/{KEY}.json:1:2: job journal entry is not valid JSON" in said
            assert "internal error" not in said
    finally:
        (journal / f"{KEY}.json").unlink()


def test_cost_names_a_ledger_row_that_is_not_a_number(
    film: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = film / "ledger.csv"
    ledger.write_text(",".join(COLUMNS) + "\n" + ROW.format(key=KEY, cost="abc"))
    try:
        code, said = _vf(film, capsys, "cost")
        assert code == 2 and "ledger.csv:2:" in said and "'abc' is not a number" in said, said
    finally:
        ledger.unlink()


@pytest.mark.parametrize("folder", [".vf", "locks", ".vf/objects", "03_Generations"])
def test_a_plain_file_where_a_folder_belongs_is_named(
    film: Path, capsys: pytest.CaptureFixture[str], folder: str, tmp_path: Path
) -> None:
    import shutil

    copy = tmp_path / "film"
    shutil.copytree(film, copy)
    if (copy / folder).is_dir():
        shutil.rmtree(copy / folder)
    (copy / folder).parent.mkdir(parents=True, exist_ok=True)
    (copy / folder).write_text("not a folder")
    for command in ("status", "plan", "build"):
        code, said = _vf(copy, capsys, command)
        assert code != 0 and code != 70, said
        assert f"{folder}/ must be a folder, not a file" in said, said
