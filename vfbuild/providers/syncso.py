"""sync.so (api.sync.so): lip-sync through its v2 generate API.

- Submit: `POST /v2/generate` with `{model, input: [{type: video, url}, {type: audio, url}],
  options}` and `x-api-key` → the generation (`id`, `status: PENDING`).
- Follow: `GET /v2/generate/{id}`: PENDING, PROCESSING, then COMPLETED (`outputUrl`) or FAILED,
  REJECTED, CANCELED (`error`, `errorCode`).

Idempotency (sync.so/docs/api-reference/guides/idempotency): `POST /v2/generate` takes an
`Idempotency-Key` header, 1-128 characters of `[A-Za-z0-9._~-]`; sent again with the same key
and body it makes no second generation and answers with the first. vfbuild sends the journal's
client id, a UUID fixed by the recipe key and the attempt: the same job sends the same key
after a lost reply or a crash (`idempotent`: the create is simply sent again, never paid
twice), and `--retry-failed` (a new attempt) sends a new one. This is the only provider here
whose API documents such a key: fal's queue takes none, Replicate's predictions take none,
Kling's `external_task_id` refuses a duplicate (and is looked up by), Luma and Runway have
none (checked 2026-12-03).

Input files go as `data:` URIs, or with `providers.hosting` as URLs on the film's host.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, ClassVar

from vfbuild.errors import HttpStatusError, ProviderError
from vfbuild.providers.remote import (
    FAILED_STATE,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    Poll,
    RemoteJob,
    RemoteProvider,
)

log = logging.getLogger("vfbuild.sync")

STATES = {
    "PENDING": QUEUED,
    "PROCESSING": RUNNING,
    "COMPLETED": SUCCEEDED,
    "FAILED": FAILED_STATE,
    "REJECTED": FAILED_STATE,
    "CANCELED": FAILED_STATE,
}


class SyncProvider(RemoteProvider):
    name: ClassVar[str] = "sync"
    can_find: ClassVar[bool] = False  # no list of generations; the key makes a look-up needless
    can_cancel: ClassVar[bool] = False
    idempotent: ClassVar[bool] = True
    api: ClassVar[str] = "v2"

    def auth_headers(self) -> dict[str, str]:
        self.require_keys()  # a resumed job polls without submitting: say so before a 401
        return {"x-api-key": self.key("SYNC_API_KEY")}

    def url_inputs(self, job: RemoteJob) -> list[Path]:
        return job.roles()

    def submit(self, job: RemoteJob) -> str:
        if job.step != "lipsync":
            raise ProviderError(f"{job.label}: sync.so makes lip-sync takes only")
        body: dict[str, Any] = {
            "model": job.model,
            "input": [
                {"type": "video", "url": self.file_url(job.file("clip"), job)},
                {"type": "audio", "url": self.file_url(job.file("audio"), job)},
            ],
        }
        if job.extra:
            body["options"] = job.extra  # e.g. sync_mode from shots.yaml
        try:
            resp = self.http.request(
                "POST",
                "/v2/generate",
                what=f"{job.label}: submit to {job.model}",
                creates=True,
                json=body,
                headers={"Idempotency-Key": job.client_id},
            )
        except HttpStatusError as e:
            raise self._refusal(
                job,
                e,
                _message(e.body),
                key="SYNC_API_KEY",
                key_page="https://sync.so/keys",
                models="sync.so/docs",
            ) from None
        gen = resp.json()
        if not isinstance(gen, dict) or not gen.get("id"):
            raise ProviderError(f"{job.label}: sync.so accepted the job but sent no id")
        return str(gen["id"])

    def poll(self, job_id: str, job: RemoteJob) -> Poll:
        gen = self.http.get_json(f"/v2/generate/{job_id}", what=f"{job.label}: status of {job_id}")
        status = str(gen.get("status") if isinstance(gen, dict) else "")
        state = STATES.get(status)
        if state is None:
            raise ProviderError(f"{job.label}: sync.so sent an unknown status {status!r}")
        if state == FAILED_STATE:
            why = str(gen.get("error") or status.lower())
            code = gen.get("errorCode")
            return Poll(
                state,
                error=why + (f" ({code})" if code else ""),
                refused=status == "REJECTED",  # the service refused the input itself
            )
        if state == SUCCEEDED:
            url = gen.get("outputUrl")
            return Poll(SUCCEEDED, progress=1.0, outputs=[str(url)] if url else [])
        return Poll(state)

    def cancel(self, job_id: str, job: RemoteJob) -> None:
        # No cancel is documented for a generation: it runs to its end once submitted.
        log.info("%s: sync.so cannot cancel %s; it will finish on its own", job.label, job_id)


def _message(body: Any) -> str:
    if isinstance(body, dict):
        text = str(body.get("message") or body)
        return text + (f" ({body['code']})" if body.get("code") else "")
    return str(body)[:300]
