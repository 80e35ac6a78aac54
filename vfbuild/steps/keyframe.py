"""`keyframe`: text → image. `takes` stills of the composed prompt at the final tier's size,
one of which a human picks: the lock of framing. A user may polish the picked still
(`<picked file>_polished.<ext>` in 01_Source_Images): the lock then pins the polished file, and
everything downstream builds from it."""

from __future__ import annotations

from typing import Any

from vfbuild.media.contract import Contract
from vfbuild.spec.models import Film, Shot
from vfbuild.steps import register
from vfbuild.steps.base import STALE, Job, Resolution, Step, StepState
from vfbuild.store import layout

# A user's retouched master keyframe: `<picked keyframe name>_polished.<ext>`.
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp")


class Keyframe(Step):
    name = "keyframe"
    contract = Contract("image", size="aspect")
    order = 10
    slot = "keyframe"
    tier = "draft"
    picked = True
    kind = "image"

    def takes(self, shot: Shot) -> int:
        return shot.keyframe.takes

    def applies(self, film: Film, shot: Shot) -> bool:
        # A clip whose first frame comes from another shot (`motion.first`) has that frame
        # for its keyframe: none is generated.
        return shot.motion.first is None

    def resolve(self, r: Resolution, shot: Shot | None) -> StepState:
        from vfbuild.spec.prompt import camera_notes, keyframe_prompt, negative_prompt

        assert shot is not None
        state = StepState(shot.id, self.name, STALE)
        w, h = r.tier_size("final")
        settings: dict[str, Any] = {
            "width": w,
            "height": h,
            "provider_settings": r.tier_settings(self.name, "final"),
        }
        if r.provider(self.name).labels:
            settings |= {"label": shot.id, "notes": camera_notes(shot)}
        refs = r.film.reference_files(shot)
        state.inputs = {"references": [r.root / f for f in refs]}
        if r.frozen:
            return r.frozen_pick(shot, self.name, state)
        base = dict(
            **r.made_by(self.name),
            tier="final",
            settings=settings,
            inputs={"references": [r.input_sha(f) for f in refs]},
            prompt=keyframe_prompt(r.film, shot, r.root),
            negative=negative_prompt(r.film, shot, "keyframe", r.root) or None,
        )
        kf = shot.keyframe
        jobs = r.take_jobs(shot.id, self.name, base, kf.seed, kf.takes)
        state.jobs = r.pick_jobs(shot, self.name, jobs, state)
        state.polished = self.new_polished(r, shot.id)
        return r.finish(state)

    def targets(self, job: Job, title: str, version: int) -> list[str]:
        paths = super().targets(job, title, version)
        if job.picked:  # the master keyframes
            paths.append(layout.source_image_path(job.name, self.name, version, job.take, job.ext))
        return paths

    def new_polished(self, r: Resolution, shot_id: str) -> str | None:
        """A `<picked keyframe>_polished.<ext>` beside the picked keyframe in 01_Source_Images
        that the lock does not pin yet (the user's retouched master), film-relative."""
        pick = r.locks.pick(shot_id, self.name)
        if pick is None:
            return None
        stem = layout.take_name(shot_id, self.name, pick.version, pick.take, "")
        stem += layout.POLISHED_SUFFIX
        names = r.source_images()
        for ext in IMAGE_EXTS:
            if stem + ext in names:
                rel = f"{layout.SOURCE_IMAGES}/{stem}{ext}"
                sha = r.file_sha(r.root / rel)
                if pick.polished is None or pick.polished.sha256 != sha:
                    return rel
                return None
        return None

    def fingerprint_files(self, shot: str, names: set[str]) -> list[str]:
        prefix = f"{shot}_{self.name}_"
        return sorted(n for n in names if n.startswith(prefix) and layout.POLISHED_SUFFIX in n)


register(Keyframe())
