"""`stems`: the film's `stems:` source (its picked music, or a reference track under
references/ or 04_Audio/) split into vocals and instrumental, versioned in 04_Audio/
(`<title>_stems_vNNN_vocals.wav`, `..._instrumental.wav`). With `mix: true` the mix plays the
instrumental in place of the music.

The two stems are the step's two takes of one recipe (take 1 the vocals, take 2 the
instrumental, as `settings.stems` names them), so they share a version. The local provider's
split is previz (centre-channel extraction and a speech band, not source separation).
"""

from __future__ import annotations

from typing import Any, Literal

from vfbuild.spec.models import Film, Shot
from vfbuild.steps import register
from vfbuild.steps.base import STALE, WAITING, Job, Resolution, Step, StepState
from vfbuild.store import layout
from vfbuild.store.locks import FILM_LOCK

STEMS = ("vocals", "instrumental")
INSTRUMENTAL = STEMS.index("instrumental") + 1  # its take


def stem_of(job: Job) -> str:
    return str(job.recipe["settings"]["stems"][job.take - 1])


class Stems(Step):
    name = "stems"
    order = 92  # after the music it may split, before the mix that may play it
    scope = "film"
    slot = "stems"
    tier = "draft"
    picked = True  # two takes of one recipe, one version (the mix names the one it plays)
    kind = "audio"
    edit_material = False

    def in_film(self, film: Film) -> bool:
        return film.stems is not None

    def resolve(self, r: Resolution, shot: Shot | None) -> StepState:
        state = StepState(FILM_LOCK, self.name, STALE)
        spec = r.film.stems
        if spec is None:
            return r.finish(state)
        source = self._source(r, state)
        if source is None:
            return state
        sha, path = source
        state.inputs["source"] = path
        base: dict[str, Any] = dict(
            **r.made_by(self.name, "final"),
            tier="final",
            settings={
                "stems": list(STEMS),
                "provider_settings": r.tier_settings(self.name, "final"),
            },
            inputs={"source": sha},
            prompt=None,
        )
        jobs = r.take_jobs(FILM_LOCK, self.name, base, 0, len(STEMS))
        if spec.mix:
            jobs[INSTRUMENTAL - 1].picked = True
        if r.frozen:
            # Only the instrumental the locked mix played: nothing else is pinned, and a
            # frozen build makes nothing new.
            out = r.locks.output(FILM_LOCK, "mix")
            stem = out.recipe.get("inputs", {}).get("stem") if out is not None else None
            jobs = [jobs[INSTRUMENTAL - 1]] if isinstance(stem, dict) else []
            for job in jobs:
                job.picked, job.pinned_sha256 = True, str(stem["sha256"])  # type: ignore[index]
        state.jobs = jobs
        return r.finish(state)

    @staticmethod
    def _source(r: Resolution, state: StepState) -> tuple[str, Any] | None:
        spec = r.film.stems
        assert spec is not None
        if not spec.from_music:
            return r.input_sha(spec.source), r.root / spec.source
        music = r.resolve(FILM_LOCK, "music")
        picked = next((j for j in music.jobs if j.picked), None)
        art = r.artifact(picked.key) if picked is not None else None
        if art is None:
            state.status, state.reasons = WAITING, ["waits for music to be built"]
            return None
        return art.sha256, r.object_path(art.sha256)

    def targets(self, job: Job, title: str, version: int) -> list[str]:
        name = f"{layout.slug(title)}_{self.name}_{layout.vtag(version)}_{stem_of(job)}{job.ext}"
        return [f"{layout.AUDIO}/{name}"]


def instrumental(
    r: Resolution, state: StepState
) -> tuple[dict[str, Any], Any] | Literal[False] | None:
    """For the mix: the instrumental it plays in place of the music, as (recipe entry, file);
    None when the film does not ask for it; False when it is not made yet (`state` then
    waits)."""
    spec = r.film.stems
    if spec is None or not spec.mix:
        return None
    stems = r.resolve(FILM_LOCK, "stems")
    job = next((j for j in stems.jobs if j.picked), None)
    art = r.artifact(job.key) if job is not None else None
    if job is None or art is None:
        if job is not None and job.pinned_sha256 and r.object_path(job.pinned_sha256).exists():
            return _entry(job, job.pinned_sha256), r.object_path(job.pinned_sha256)
        reason = stems.reasons[0] if stems.reasons else "waits for stems to be built"
        state.status, state.reasons = WAITING, [f"waits for the instrumental: {reason}"]
        return False
    return _entry(job, art.sha256), r.object_path(art.sha256)


def _entry(job: Job, sha256: str) -> dict[str, Any]:
    return {"sha256": sha256, "take": job.take}  # a lock holds no other text in inputs


register(Stems())
