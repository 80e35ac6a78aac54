"""Part 7, remote: pushing and pulling a 1 GiB take through the remote cache, against a plain
s3fs `put_file` / `get_file` of the same bytes (what `aws s3 cp` does, with the same library).

The S3 server is moto in server mode on 127.0.0.1, in a process of its own. Each transfer runs
in a fresh child process, which reports its wall time and its own peak RSS (getrusage's
ru_maxrss at exit). vf's push is `Remote.upload_blob` (streamed in 8 MiB parts, an exclusive
create); its pull is `TeamCache.fetch_blob`: streamed to a temp file while hashed, then put in
the store, which hashes it once more before the rename (the store trusts no caller).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.util import REPO, WORK, secs, table

SIZE = 1 << 30
MODES = ("vf-push", "s3fs-put", "vf-pull", "s3fs-get")


@dataclass
class RemoteResult:
    size: int = SIZE
    walls: dict[str, list[float]] = field(default_factory=dict)
    rss: dict[str, list[float]] = field(default_factory=dict)

    def best(self, mode: str) -> float:
        return sorted(self.walls[mode])[len(self.walls[mode]) // 2]

    def rate(self, mode: str) -> float:
        return self.size / 2**20 / self.best(mode)

    def targets(self) -> list[tuple[str, str, str]]:
        push = self.best("s3fs-put") / self.best("vf-push")
        pull = self.best("s3fs-get") / self.best("vf-pull")
        peak = max(max(self.rss["vf-push"]), max(self.rss["vf-pull"]))
        return [
            ("push throughput vs plain s3fs put_file (measured)", f"{push:.2f}×", "—"),
            ("pull throughput vs plain s3fs get_file (measured)", f"{pull:.2f}×", "—"),
            ("peak RSS of a 1 GiB push or pull < 150 MiB", f"{peak:.0f} MiB", _met(peak < 150)),
        ]

    def section(self) -> str:
        rows = [
            (
                m,
                secs(self.best(m)),
                f"{self.rate(m):.0f} MiB/s",
                f"{max(self.rss[m]):.0f} MiB",
            )
            for m in MODES
        ]
        return "\n".join(
            [
                f"## 7. Remote cache: {self.size / 2**30:g} GiB to a local S3 server",
                "",
                __doc__.split("\n\n", 1)[1].strip(),
                "",
                table(("transfer", "wall (median)", "throughput", "peak RSS"), rows),
            ]
        )


def _met(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _env(endpoint: str) -> dict[str, str]:
    from tests.s3server import s3_env

    return {**os.environ, **s3_env(endpoint), "PYTHONPATH": str(REPO)}


def run(*, quick: bool = False, runs: int = 1, log: object = print) -> RemoteResult:
    say = log if callable(log) else print
    size = SIZE // 4 if quick else SIZE
    work = WORK / "remote"
    work.mkdir(parents=True, exist_ok=True)
    src = work / "take.bin"
    if not src.exists() or src.stat().st_size != size:
        with open(src, "wb") as f:  # random bytes: nothing on the way can compress them
            for _ in range(size // 2**20):
                f.write(os.urandom(2**20))
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    env = _env(endpoint)
    server_log = work / "moto.log"
    with open(server_log, "wb") as logf:
        server = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=logf,
            stderr=subprocess.STDOUT,
            env=env,
        )
    result = RemoteResult(size=size)
    try:
        _wait_for(port, server, server_log)
        for i in range(runs):
            for mode in MODES:
                out = subprocess.run(
                    [sys.executable, "-m", "bench.remote", mode, endpoint, str(src), str(i)],
                    capture_output=True,
                    text=True,
                    env=env,
                    cwd=REPO,
                )
                if out.returncode != 0:
                    # Said whole: a bare "exit 1" (CalledProcessError) hid why the child failed.
                    raise RuntimeError(
                        f"{mode} child exited {out.returncode}; moto "
                        f"{'running' if server.poll() is None else 'gone'}; its stderr:\n"
                        + out.stderr[-4000:]
                    )
                got = json.loads(out.stdout.strip().splitlines()[-1])
                result.walls.setdefault(mode, []).append(got["wall"])
                result.rss.setdefault(mode, []).append(got["maxrss_mib"])
                say(f"  {mode}: {got['wall']:.1f}s, peak RSS {got['maxrss_mib']:.0f} MiB")
    finally:
        server.terminate()
        server.wait(timeout=30)
    return result


def _wait_for(port: int, server: subprocess.Popen[bytes], log: Path, limit: float = 120.0) -> None:
    """Until moto answers on `port`. It imports every AWS service's backend first: seconds on
    an idle machine, and on a loaded one past the 10 s this once waited, after which the first
    child (vf-push) found nothing listening and exited 1."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"moto exited {server.returncode}: {log.read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"moto did not answer on port {port} within {limit:.0f} s")


def child(mode: str, endpoint: str, src: Path, run_no: str) -> None:
    """One transfer in this process; prints its wall time and peak RSS as JSON."""
    import hashlib

    import s3fs

    from vfbuild.store.index import RecipeIndex
    from vfbuild.store.objects import ObjectStore
    from vfbuild.store.remote import Remote
    from vfbuild.store.teamcache import TeamCache

    fs = s3fs.S3FileSystem()
    bucket = f"bench-{run_no}"
    if not fs.exists(bucket):
        fs.mkdir(bucket)
    digest = hashlib.sha256()
    with open(src, "rb") as f:
        while chunk := f.read(8 << 20):
            digest.update(chunk)
    sha = digest.hexdigest()
    remote = Remote("bench", f"s3://{bucket}/vf")
    film = src.parent / f"film-{run_no}"
    plain = f"{bucket}/plain/{sha}"
    start = time.perf_counter()
    if mode == "vf-push":
        remote.upload_blob(src, sha)
    elif mode == "s3fs-put":
        fs.put_file(str(src), plain)
    elif mode == "vf-pull":
        shutil.rmtree(film, ignore_errors=True)
        (film / ".vf/tmp").mkdir(parents=True, exist_ok=True)
        store = ObjectStore(film / ".vf/objects")
        team = TeamCache(film, store, RecipeIndex(film / ".vf/recipes"), remote)
        from vfbuild.store.objects import Artifact

        team.fetch_blob(Artifact(sha, ".bin", src.stat().st_size))
        assert remote.blob_size(sha) == store.path(sha).stat().st_size
    elif mode == "s3fs-get":
        fs.get_file(plain, str(src.parent / f"got-{run_no}.bin"))
    wall = time.perf_counter() - start
    shutil.rmtree(film, ignore_errors=True)
    (src.parent / f"got-{run_no}.bin").unlink(missing_ok=True)
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"wall": wall, "maxrss_mib": maxrss}))


if __name__ == "__main__":
    if len(sys.argv) == 5:
        child(sys.argv[1], sys.argv[2], Path(sys.argv[3]), sys.argv[4])
    else:
        res = run(quick="--quick" in sys.argv)
        print(res.section())
        for row in res.targets():
            print(" | ".join(row))
