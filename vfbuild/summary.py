"""What a build says when it is over, in words: the same lines for `vf build` and the review
page's build (both format a `BuildReport`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vfbuild.api import BuildReport


def build_lines(report: BuildReport) -> list[str]:
    """What a build says when it is over: notes, the film, what waits for the user."""
    lines = [f"note: {note}" for note in report.notes]
    if report.film is not None:
        rough = f" (rough cut: {', '.join(report.rough)})" if report.rough else ""
        lines.append(f"film: {report.film}{rough}")
    if report.waiting:
        lines.append("to go on, pick:")
        for shot, reasons in report.waiting.items():
            lines += [f"  {shot}: {r}" for r in reasons]
    if report.inbox:
        lines.append("made by hand (provider manual): waiting for your files:")
        lines += [f"  {line}" for line in report.inbox]
    if report.spent:
        from vfbuild.providers.pricing import money

        lines.append(
            f"ledger.csv: +{money(report.spent)} for this build's jobs (`vf cost` sums it)"
        )
    if report.errors:
        return lines
    if not report.made and report.inbox:
        lines.append("nothing else to make until those files are in the inbox")
    elif not report.made:
        lines.append(
            "nothing to do: everything is up to date"
            if not report.waiting
            else "nothing else to make until those picks are made"
        )
    else:
        lines.append(f"made {len(report.made)} artifact(s) in {report.seconds:.1f}s")
    return lines
