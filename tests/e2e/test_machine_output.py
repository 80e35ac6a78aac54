"""`--json` and `vf graph`: what scripts, CI and agents read. Each command's JSON is validated
against its schema in schema/json/, and every view of the plan (`vf plan`, `vf plan --json`,
`vf status --json`, `vf graph` as DOT, Mermaid and JSON) names the same steps stale."""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

import vfbuild
from tests.conftest import REPO
from tests.e2e.film import make_film, vf
from tests.e2e.remote import remote_film
from vfbuild import jsonout

SCHEMAS = REPO / "schema" / "json"


def checked(command: str, out: str) -> dict[str, Any]:
    """The JSON `out`, validated against the schema of `command`."""
    doc = json.loads(out)
    schema = json.loads((SCHEMAS / f"{command}.schema.json").read_text())
    Draft202012Validator(schema).validate(doc)
    assert doc["schema"] == f"vfbuild.{command}/1"
    return doc


def test_every_schema_is_a_valid_json_schema_and_every_command_has_one() -> None:
    names = sorted(p.name.removesuffix(".schema.json") for p in SCHEMAS.glob("*.schema.json"))
    assert names == sorted(jsonout.COMMANDS)
    for name in names:
        schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
        Draft202012Validator.check_schema(schema)
        assert schema["properties"]["schema"] == {"const": jsonout.schema(name)}


def test_the_json_of_each_command_matches_its_schema(tmp_path: Path) -> None:
    film = make_film(tmp_path / "film")
    plan = checked("plan", vf(film, "plan", "--json").stdout)
    assert plan["takes"] == 6 and plan["cost"] == 0.0
    assert [s["shot"] for s in plan["steps"]][-1] is None  # the edit, a film step
    assert checked("status", vf(film, "status", "--json").stdout)["steps"]
    # The build: its progress on stderr, its report (only) on stdout.
    run = vf(film, "build", "--tier", "draft", "--json")
    report = checked("build", run.stdout)
    assert "  made s010 keyframe t01 (local" in run.stderr
    # six keyframes, three segments of the rough cut, its join and its two subtitle files
    assert report["ok"] and len(report["made"]) == 12 and report["film"].startswith("06_Edit/")
    assert set(report["waiting"]) == {"s010", "s020", "s030"}
    again = checked("build", vf(film, "build", "--tier", "draft", "--json").stdout)
    assert again["made"] == [] and again["waiting"] == report["waiting"]
    vf(film, "pick", "s010", "keyframe", "2")
    status = checked("status", vf(film, "status", "--json").stdout)
    keyframe = next(s for s in status["steps"] if (s["shot"], s["step"]) == ("s010", "keyframe"))
    assert keyframe["pick"] == {"take": 2, "version": 1} and keyframe["version"] == 1
    graph = checked("graph", vf(film, "graph", "--format", "json").stdout)
    ids = {t["id"] for t in graph["tasks"]}
    assert ["s010:keyframe", "s010:draft"] in graph["edges"] and "edit" in ids
    assert all(a in ids and b in ids for a, b in graph["edges"])
    # No paid job yet: the ledger and the journal are empty, in their shapes.
    assert checked("cost", vf(film, "cost", "--json").stdout)["jobs"] == 0
    assert checked("jobs", vf(film, "jobs", "--json").stdout) == {
        "schema": "vfbuild.jobs/1",
        "jobs": [],
        "lost": [],
    }


def test_paid_jobs_lost_jobs_and_failures_in_json(tmp_path: Path) -> None:
    with remote_film(tmp_path, "fal", slots=("keyframe",)) as film:
        film.fake.faults.force("create", "drop")  # fal took a job; its reply was lost
        run = film.vf("build", "--tier", "draft", "--json", check=False)
        report = checked("build", run.stdout)
        assert run.returncode == report["exit_code"] != 0 and not report["ok"]
        [error] = report["errors"]
        assert error["type"] == "ProviderError" and "reply was lost" in error["message"]
        assert report["spent"] == pytest.approx(0.2)  # the five others, $0.04 each
        jobs = checked("jobs", film.vf("jobs", "--json").stdout)
        [job] = jobs["jobs"]
        assert job["state"] == "submitting" and job["provider"] == "fal"
        assert job["step"] == "keyframe" and job["take"] in (1, 2) and job["job_id"] is None
        film.vf("build", "--tier", "draft", "--resubmit")
        cost = checked("cost", film.vf("cost", "--json").stdout)
        assert cost["jobs"] == 7 and cost["total"] == pytest.approx(0.28)
        assert cost["by_provider"] == {"fal": pytest.approx(0.28)}
        [lost] = cost["lost"]
        assert lost["lost"] and lost["cost"] == pytest.approx(0.04)


def plan_stale(out: str) -> set[tuple[str, str]]:
    """(shot, step) of each stale row of `vf plan`'s table (the film's steps under "film")."""
    rows = set()
    for line in out.splitlines():
        words = line.split()
        if not line.startswith(" ") and len(words) >= 3 and words[2] == "stale":
            rows.add((words[0], words[1]))
    return rows


def json_stale(rows: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(r["shot"] or "film", r["step"]) for r in rows if r["status"] == "stale"}


DOT_NODE = re.compile(
    r'^\s+"[^"]+" \[label="([^"\\]+)\\n([^"\\]+)\\n([^"\\]+)", class="([^"]+)".*\];$', re.M
)
MERMAID_NODE = re.compile(r'^\s+t\d+\["([^<"]+)<br/>([^<"]+)<br/>([^<"]+)"\]:::(\w+)$', re.M)


def graph_stale(dot: str, mermaid: str) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    nodes = DOT_NODE.findall(dot)
    assert nodes and all(status == cls for _, _, status, cls in nodes), dot
    for name, step, status, _ in nodes:
        line = next(ln for ln in dot.splitlines() if f'label="{name}\\n{step}\\n' in ln)
        assert ("bold" in line) == (status == "stale"), line  # stale tasks are drawn bold
    boxes = MERMAID_NODE.findall(mermaid)
    assert len(boxes) == len(nodes), mermaid
    assert all(cls == status.replace("-", "_") for _, _, status, cls in boxes), mermaid
    return (
        {(n, s) for n, s, status, _ in nodes if status == "stale"},
        {(n, s) for n, s, status, _ in boxes if status == "stale"},
    )


def test_plan_status_and_graph_agree_about_what_is_stale(tmp_path: Path) -> None:
    film = make_film(tmp_path / "film")

    def agree(*args: str) -> set[tuple[str, str]]:
        shots = [a for a in args if a.startswith("s0")]
        runs = {
            "plan": ("plan", *args),
            "plan --json": ("plan", *args, "--json"),
            "status --json": ("status", *shots, "--json"),
            "graph": ("graph", *args),
            "graph mermaid": ("graph", *args, "--format", "mermaid"),
        }
        # Side by side: they read the film, and write only caches (each file atomically).
        with ThreadPoolExecutor(3) as pool:
            outs = pool.map(lambda a: vf(film, *a).stdout, runs.values())
            said = dict(zip(runs, outs, strict=True))
        text = plan_stale(said["plan"])
        as_json = json_stale(checked("plan", said["plan --json"])["steps"])
        dot, mermaid = graph_stale(said["graph"], said["graph mermaid"])
        assert text == as_json == dot == mermaid, (text, as_json, dot, mermaid)
        if "--tier" not in args:  # status knows no tier: it shows the whole pipeline
            assert json_stale(checked("status", said["status --json"])["steps"]) == text
        return text

    shots = ("s010", "s020", "s030")
    assert agree() == {(s, "keyframe") for s in shots}
    vf(film, "build", "--tier", "draft")
    for sid in shots:  # as `vf pick` does, without three more processes
        vfbuild.open(film).pick(sid, "keyframe", 1)
    assert agree() == {(s, "draft") for s in shots}
    assert agree("s020", "--tier", "draft") == {("s020", "draft")}
    # A changed prompt makes that shot's keyframe stale again (its draft stays stale: the old
    # pick stays in force until a new one is made).
    (film / "prompts" / "s030.txt").write_text("wide shot of the driver, summer street\n")
    assert agree() == {(s, "draft") for s in shots} | {("s030", "keyframe")}
