"""The job journal, the cost ledger, prices and the budget."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from vfbuild.errors import BudgetExceeded
from vfbuild.providers.pricing import Budget, load_prices, take_cost
from vfbuild.store.journal import FAILED, SUBMITTED, SUBMITTING, Journal, client_id_for
from vfbuild.store.ledger import Ledger, summarize

KEY = "ab" * 32


def test_journal_keeps_the_client_id_of_a_lost_submit_and_renews_it_after_a_failure(
    tmp_path: Path,
) -> None:
    j = Journal(tmp_path / "journal")
    e = j.begin(KEY, provider="kling", model="m", label="s010 draft t01", cost=0.28)
    assert e.state == SUBMITTING and e.client_id == client_id_for(KEY, 1)
    # A crash before the reply: the same attempt is begun again with the same client id.
    again = j.begin(KEY, provider="kling", model="m", label="s010 draft t01", cost=0.28)
    assert again.client_id == e.client_id and again.attempt == 1
    j.update(again, state=SUBMITTED, job_id="task-1")
    assert j.get(KEY).job_id == "task-1"
    j.update(j.get(KEY), state=FAILED, error="nsfw")
    retry = j.begin(KEY, provider="kling", model="m", label="s010 draft t01", cost=0.28)
    assert retry.attempt == 2 and retry.client_id != e.client_id
    assert client_id_for(KEY, 2) == client_id_for(KEY, 2).lower()
    assert [x.key for x in j.entries()] == [KEY]


def test_ledger_appends_once_per_job_and_survives_a_cut_last_line(tmp_path: Path) -> None:
    led = Ledger(tmp_path)
    row = dict(shot="s010", step="draft", version=1, take=1, provider="fal", model="m",
               recipe_key=KEY, job_id="r1", cost=0.25)  # fmt: skip
    assert led.append(**row) is True
    assert Ledger(tmp_path).append(**row) is False  # a second build: already there
    with open(tmp_path / "ledger.csv", "a") as f:
        f.write("2026-01-01T00:00:00Z,s020,dra")  # a crash mid-row
    led2 = Ledger(tmp_path)
    assert led2.append(**{**row, "shot": "s020", "job_id": "r2", "cost": None})
    rows = led2.rows()
    assert [(r.shot, r.cost) for r in rows] == [("s010", "0.2500"), ("s020", "")]
    assert summarize(rows, "provider") == {"fal": 0.25}


def test_ledger_rows_from_threads_are_whole(tmp_path: Path) -> None:
    led = Ledger(tmp_path)

    def add(i: int) -> None:
        led.append(shot=f"s{i:03d}", step="keyframe", version=1, take=1, provider="fal",
                   model="m", recipe_key=f"{i:064d}", job_id=str(i), cost=0.04)  # fmt: skip

    threads = [threading.Thread(target=add, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(Ledger(tmp_path).rows()) == 40


def test_prices_by_unit_and_tier_and_the_film_overrides(tmp_path: Path) -> None:
    table = load_prices(None)
    kling = {"provider": "kling", "model": "kling-v2-1", "tier": "draft"}
    assert take_cost(table, kling, ("second", 5)) == pytest.approx(0.28)
    assert take_cost(table, {**kling, "tier": "final"}, ("second", 5)) == pytest.approx(0.49)
    assert take_cost(table, {"provider": "nobody", "model": "x"}, ("image", 1)) is None
    (tmp_path / "prices.yaml").write_text("kling:\n  kling-v2-1: {second: 1.0}\n")
    assert take_cost(load_prices(tmp_path), kling, ("second", 5)) == 5.0


def test_budget_refuses_the_job_that_would_pass_it_and_names_it() -> None:
    b = Budget(1.0)
    b.reserve("s010 draft t01", 0.6)
    with pytest.raises(BudgetExceeded, match="s020 draft t01: not started"):
        b.reserve("s020 draft t01", 0.6)
    b.reserve("s030 keyframe t01", 0.4)
    with pytest.raises(BudgetExceeded, match="price is unknown"):
        b.reserve("s040 keyframe t01", None)
    assert b.left == ["s020 draft t01", "s040 keyframe t01"]
