"""Every path under a film's `.vf/` folder, named once: the store, its scratch and its caches.

No other module spells the folder's name: each takes its paths from here, as film-relative
POSIX names (for messages, sweeps and the no-op stamp) or as paths under a film root
(`at(root, NAME)`). This module imports nothing of vfbuild, so spec/, store/ and plan/ can
all use it.

What `.vf/` holds that is not a cache (losing these loses work or money):

- `objects/<aa>/<sha256>`: the artifacts, immutable (`vfbuild.store.objects`).
- `recipes/<key>.json`: recipe key → artifact, the truth of what was made; `recipes/index.log`
  beside them is read instead of ten thousand JSON files and rebuilt from them when it lacks a
  key (`vfbuild.store.index`).
- `journal/<key>.json`: every paid job, written before it is submitted: never pay twice
  (`vfbuild.store.journal`). Losing it may resubmit a job that was in flight.
- `tmp/`: where takes are written before the store renames them in; emptied by every build.
- `partial/<sha256>.part`: a blob pulled from a remote cache and cut off midway (a killed
  `vf pull` or build): the next pull of that blob goes on from its end rather than from
  byte 0, and it is removed once the blob, verified whole, is in the store; `vf gc` removes
  any left (`vfbuild.store.remote`).
- `damaged/<sha256><ext>`: files found changed in place (a store object, a layout file), moved
  aside rather than deleted: a user may have edited a take (`vfbuild.store.verify`).
- `build.lock` (one build at a time: an flock), `build.running` (there while a build runs: a
  killed build leaves it, and the next sweeps temp files and trusts no stamp), `last-error.log`
  (the traceback of the last internal error).
- `voices.json`: each voice cloned from a character's sample, by provider and the sample's
  sha256 (`vfbuild.providers.voiceclone`). Losing it costs a look-up by name, never a clone.
- `clone-id`: this clone's name on a remote cache: who holds a claim on a paid recipe
  (`vfbuild.store.remote`). Losing it only makes this clone a stranger to its own claims.

The caches. Each is only a faster road to an answer vfbuild can always work out again: a
missing, damaged, foreign or stale one is a miss, never an error, and deleting any of them (or
all of `.vf/cache/`) loses nothing. Every pickle is sealed with an HMAC under a key kept outside
the film (`vfbuild.store.sealed`): bytes that do not verify are never unpickled. "Code" is
`vfbuild.codesig.code_signature()`: vfbuild's version and the size and mtime of each of its
sources, one signature for every cache that holds what vfbuild's code worked out. The costs
are those of a 1000-shot film on a 2-core machine (bench/RESULTS.md).

===================  =======================  ============================  ====================
file (under `.vf/`)  holds (kept by)          valid while (its one rule)    a miss costs
===================  =======================  ============================  ====================
cache/film.pickle    the validated film;      shots.yaml's sha256, the      parsing and checking
                     the digests of shots     code and pydantic's version   shots.yaml (~1 s)
                     that passed the JSON     are the same (the files the
                     Schema (spec.load)       film names: a stat each use)

cache/               each item of `shots:`    its text (sha1) and the code  parsing every item
shots-items.pickle   parsed on its own        are the same                  (~0.45 s)
                     (spec.chunks)

cache/states.pickle  each shot's done step    its fingerprint (the code,    working out every
                     states: jobs, keys,      steps' providers, film        step: the prompts,
                     versions, layout files   settings, the shot's spec,    recipes and keys of
                     (plan.states)            the stat of its inputs,       10,000 takes (~4 s)
                                              polished keyframes and lock)
                                              holds, and each take is done

cache/locks.pickle   each lock file's         the lock file's size and      reading every lock
                     validated model          mtime and the code are the    (~12 ms a lock)
                     (store.locks)            same

cache/hashes.json    the sha256 of each       the file's size, mtime and    hashing the inputs
                     input file               inode are the same            again
                     (store.hashcache)

cache/               what the last no-op      the digest of the world it    checking every step
noop-stamp.json      build printed            saw is the same: the code,    (~0.7 s, not 0.2 s)
                     (plan.stamp)             packages, environment, the
                                              stat of every input and of
                                              every output folder

cache/               what the last `vf plan`  as the no-op stamp            planning
plan-stamp.json      printed (plan.stamp)

doit-state.json      doit's dependency file   never decides: each task      nothing
                     (plan.graph)             is up to date by its
                                              `uptodate` (recipe keys)

hosted.json          each uploaded input's    its URL lives another day     uploading the file
                     URL, by content hash     (`hosting.MARGIN`)            again (no money)
                     (providers.hosting)

cache/               what the last `vf status` as the no-op stamp            working out every
status-stamp.json    said (plan.stamp)                                      step's state

cache/               that the last `vf check`  as the no-op stamp            loading and checking
check-stamp.json     passed (plan.stamp)                                    the film (pydantic)

cache/               the review page's data   as the plan stamp, and        building the sheet
review-sheet.json    (review.sheet)           ledger.csv's stat             (~0.5 s at 100 shots)

cache/thumbs/        a JPEG per artifact      its artifact's sha256 names   a Pillow or ffmpeg
                     (review.thumbs)          it (content never changes)    thumbnail per take

cache/               the sha256 of each       the file's device, inode,     hashing each store
artifact-hashes.json store object and layout  size and mtime_ns are the     object and layout
                     file (store.verify)      same, and it was 2 s old      file again
===================  =======================  ============================  ====================
"""

from __future__ import annotations

from pathlib import Path

VF = ".vf"

# The store and its scratch (film-relative).
OBJECTS = f"{VF}/objects"
RECIPES = f"{VF}/recipes"
INDEX_LOG = f"{RECIPES}/index.log"
JOURNAL = f"{VF}/journal"
TMP = f"{VF}/tmp"
PARTIAL = f"{VF}/partial"
BUILD_LOCK = f"{VF}/build.lock"
BUILD_RUNNING = f"{VF}/build.running"
LAST_ERROR = f"{VF}/last-error.log"
DAMAGED = f"{VF}/damaged"
CLONE_ID = f"{VF}/clone-id"
VOICES = f"{VF}/voices.json"

# The caches (the table above).
CACHE = f"{VF}/cache"
FILM_CACHE = f"{CACHE}/film.pickle"
SHOTS_ITEMS = f"{CACHE}/shots-items.pickle"
STATES = f"{CACHE}/states.pickle"
LOCKS_CACHE = f"{CACHE}/locks.pickle"
HASHES = f"{CACHE}/hashes.json"
NOOP_STAMP = f"{CACHE}/noop-stamp.json"
PLAN_STAMP = f"{CACHE}/plan-stamp.json"
STATUS_STAMP = f"{CACHE}/status-stamp.json"
CHECK_STAMP = f"{CACHE}/check-stamp.json"
DOIT_STATE = f"{VF}/doit-state.json"
HOSTED = f"{VF}/hosted.json"
REVIEW_SHEET = f"{CACHE}/review-sheet.json"
THUMBS = f"{CACHE}/thumbs"
ARTIFACT_HASHES = f"{CACHE}/artifact-hashes.json"

CACHES = (
    FILM_CACHE,
    SHOTS_ITEMS,
    STATES,
    LOCKS_CACHE,
    HASHES,
    NOOP_STAMP,
    PLAN_STAMP,
    STATUS_STAMP,
    CHECK_STAMP,
    DOIT_STATE,
    HOSTED,
    REVIEW_SHEET,
    THUMBS,
    ARTIFACT_HASHES,
)

# The folders under `.vf/` that vfbuild makes when it needs them.
FOLDERS = (VF, OBJECTS, RECIPES, JOURNAL, CACHE, TMP)


def at(root: Path, name: str) -> Path:
    """`name` (one of this module's film-relative names) in the film at `root`."""
    return root / name
