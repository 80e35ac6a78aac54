"""Finishing: what an edit version hands on. Its timeline (`timeline`), the timeline in an
editor's format (`export`), and the quality check of its clips and of the cut (`qc`).

Everything here works from a `Cut` (`cut`): an edit version as plain data, its clips in order
with what made each, and its dialogue and music placements. `cut.cut_of` reads it from the
film's locks, recipe index and ledger, so the timeline and the checks follow the edit however
it is rendered.
"""
