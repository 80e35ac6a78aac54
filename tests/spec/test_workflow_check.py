"""`vf check` refuses a ComfyUI workflow file the build could not queue (not JSON, ComfyUI's UI
format, a list), at its `file:line:col` and with how to export the right one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from vfbuild.errors import SpecError
from vfbuild.spec.load import load_film

from . import mutate, write_film

FILM = mutate("video: {use: local}", "video: {use: comfyui, workflow: workflows/i2v.json}")
API = (REPO / "tests" / "fakes" / "workflows" / "video_draft.json").read_text()
UI = json.dumps({"last_node_id": 9, "nodes": [{"id": 3, "type": "KSampler"}], "links": []})


def _film(tmp_path: Path, workflow: str) -> Path:
    root = write_film(tmp_path / "film", FILM)
    (root / "workflows").mkdir()
    (root / "workflows" / "i2v.json").write_text(workflow)
    return root


def test_an_api_format_workflow_passes(tmp_path: Path) -> None:
    assert load_film(_film(tmp_path, API)).providers.video.use == "comfyui"


@pytest.mark.parametrize(
    ("workflow", "place", "said"),
    [
        ('{\n  "3": {\n    "inputs": {,\n', (3, 16), "is not valid JSON: Expecting property name"),
        (UI, (1, 1), "in ComfyUI's UI format"),
        ("[1, 2]", (1, 1), "is a JSON list"),
        ('{\n  "3": {"inputs": {}},\n  "4": {"class_type": "X"}\n}', (2, 3), "node 3 of"),
        ("{}", (1, 1), "holds no nodes"),
    ],
    ids=["bad-json", "ui-format", "list", "node-without-class", "empty"],
)
def test_a_workflow_comfyui_cannot_queue_is_refused_by_check(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    workflow: str,
    place: tuple[int, int],
    said: str,
) -> None:
    root = _film(tmp_path, workflow)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SpecError) as info:
        load_film(root)
    (problem,) = info.value.problems
    assert str(problem.location.path) == os.path.join("film", "workflows", "i2v.json")
    assert (problem.location.line, problem.location.col) == place, problem.render()
    assert said in problem.message and "named by providers.video.workflow" in problem.message
    assert problem.hint is not None and "API" in problem.hint


def test_check_reads_workflows_without_the_http_client(tmp_path: Path) -> None:
    root = _film(tmp_path, UI)
    code = (
        "import sys; from pathlib import Path; from vfbuild.spec.load import load_film\n"
        "try:\n    load_film(Path(sys.argv[1]))\n"
        "except Exception as e:\n    print(type(e).__name__)\n"
        "print('httpx' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(root)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    ).stdout.split()
    assert out == ["SpecError", "False"]
