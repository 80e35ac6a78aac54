"""ComfyUI as a pool of two render boxes (two fake ComfyUI servers on 127.0.0.1): jobs spread
to the least busy box; when one box is killed mid-build, the jobs it never got go to the other,
and the job it had accepted is never sent elsewhere: the build fails it clearly, as does the
next one, and no job is queued (paid) on both boxes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from ruamel.yaml import YAML

from tests.e2e.film import make_film, vf
from tests.fakes.base import Faults
from tests.fakes.comfyui import ComfyFake, film_providers

TAKES = 6  # 3 shots × 2 keyframe takes


def _film(tmp_path: Path, a: ComfyFake, b: ComfyFake) -> Path:
    root = make_film(tmp_path / "film")
    keyframe = film_providers(a, root)["keyframe"]
    keyframe |= {"base_urls": [a.url, b.url], "timeout": 5}
    yaml = YAML()
    doc = yaml.load(root / "shots.yaml")
    doc.insert(1, "providers", {"keyframe": keyframe})
    doc["film"]["tiers"] = {"draft": "320x180", "final": "640x360"}
    yaml.dump(doc, root / "shots.yaml")
    return root


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "VF_COMFYUI_BASE_URL"}
    return env


def test_a_pool_spreads_jobs_and_a_killed_box_keeps_its_started_jobs(tmp_path: Path) -> None:
    b = ComfyFake(latency=2.0, faults=Faults(retry_after="0")).start()
    a = ComfyFake(latency=2.0, faults=Faults(retry_after="0")).start()
    killed = False
    try:
        root = _film(tmp_path, a, b)
        plan = vf(root, "plan", "--tier", "draft", env=_env()).stdout
        assert "comfyui" in plan
        build = subprocess.Popen(
            [sys.executable, "-m", "vfbuild", "-C", str(root), "build", "--tier", "draft",
             "-j", "2"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while not (a.prompts and b.prompts) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert a.prompts and b.prompts, "the two boxes did not both get a job"
        a.stop()  # killed while its job runs
        killed = True
        on_a = set(a.prompts)
        out, err = build.communicate(timeout=300)
        on_b = set(b.prompts)
        print(f"paid at a (killed): {a.paid_jobs}, at b: {b.paid_jobs}")
        # Each job queued on one box only, and every one of them somewhere.
        assert not on_a & on_b
        assert a.paid_jobs == len(on_a) and b.paid_jobs == len(on_b)
        assert len(on_a) + len(on_b) == TAKES, (on_a, on_b, out, err)
        assert len(on_b) >= TAKES - len(on_a) and len(on_a) < TAKES / 2 + 1
        # The build fails the job the dead box accepted, clearly, and sends it nowhere else.
        assert build.returncode != 0, (out, err)
        said = out + err
        assert f"the ComfyUI box {a.url} stopped answering" in said, said
        assert "it is not sent to another box" in said and "Traceback" not in said
        made = len(list((root / "03_Generations").rglob("*keyframe*.png")))
        assert made == len(on_b)

        # The next build still waits for that box: nothing new at b, the same clear failure.
        again = vf(root, "build", "--tier", "draft", "-j", "2", env=_env(), check=False)
        assert again.returncode != 0
        assert f"the ComfyUI box {a.url} stopped answering" in again.stdout + again.stderr
        assert set(b.prompts) == on_b and b.paid_jobs == len(on_b)
    finally:
        b.stop()
        if not killed:
            a.stop()
