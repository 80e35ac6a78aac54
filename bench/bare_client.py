"""The floor for part 3: the same 40 takes sent by a bare httpx client, with no bookkeeping.

`python -m bench.bare_client URL JOBS IMAGE MODEL TAKES` makes each take with the four requests vf
makes to fal (a POST on a new connection, the status stream until COMPLETED, the result, the
download to a file), in one thread per take with a semaphore of JOBS, and writes nothing else:
no journal, no store, no probe, no ledger. It prints two times, in seconds: the jobs alone (from
the first submit to the last download), and the whole run from before `import httpx` (the CA
bundle loaded in a thread meanwhile, as vf does). Only `sys`, `time` and `threading` are
imported before that: the second time is what a Python client on this machine pays at the
least, to be set beside vf's own time (its wall less its no-op's).
"""

from __future__ import annotations

import sys
import threading
import time

START = time.monotonic()


def main(argv: list[str]) -> None:
    url, jobs, image, model = argv[0].rstrip("/"), int(argv[1]), argv[2], argv[3].strip("/")
    takes = int(argv[4])
    tls: list[object] = []

    def load_tls() -> None:
        import ssl

        import certifi

        tls.append(ssl.create_default_context(cafile=certifi.where()))

    loader = threading.Thread(target=load_tls)
    loader.start()
    import base64
    import json
    import os
    import tempfile

    import httpx

    loader.join()
    key = os.environ["FAL_KEY"]
    with open(image, "rb") as f:
        data_uri = "data:image/png;base64," + base64.b64encode(f.read()).decode("ascii")
    headers = {"Authorization": f"Key {key}"}
    fresh = httpx.Client(verify=tls[0], limits=httpx.Limits(max_keepalive_connections=0))
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=32)
    client = httpx.Client(verify=tls[0], limits=limits)
    bare = httpx.Client(verify=tls[0], limits=limits, follow_redirects=True)
    app = "/".join(model.split("/")[:2])
    slots = threading.Semaphore(jobs)
    out = tempfile.mkdtemp(prefix="vf-bare-")
    errors: list[BaseException] = []

    def take(i: int) -> None:
        try:
            with slots:
                body = {"prompt": f"take {i}", "image_url": data_uri, "duration": "5"}
                reply = fresh.post(f"{url}/{model}", headers=headers, json=body)
                reply.raise_for_status()
                requests = f"{url}/{app}/requests/{reply.json()['request_id']}"
                with client.stream("GET", requests + "/status/stream", headers=headers) as s:
                    for line in s.iter_lines():
                        if line.startswith("data:") and json.loads(line[5:])["status"] == (
                            "COMPLETED"
                        ):
                            break
            result = client.get(requests, headers=headers)
            result.raise_for_status()
            video = result.json()["video"]["url"]
            with bare.stream("GET", video) as d, open(os.path.join(out, f"{i}.mp4"), "wb") as f:
                for chunk in d.iter_bytes(1 << 20):
                    f.write(chunk)
        except BaseException as e:  # reported below: the run does not count
            errors.append(e)

    first = time.monotonic()
    threads = [threading.Thread(target=take, args=(i,)) for i in range(takes)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    end = time.monotonic()
    if errors:
        raise SystemExit(f"bare client: {len(errors)} take(s) failed: {errors[0]!r}")
    print(f"{end - first:.4f} {end - START:.4f}")


if __name__ == "__main__":
    main(sys.argv[1:])
