"""Sound numbers (issue 17): the local voice's speed and determinism, and the mix: how far the
music ducks under a line, how close the loudness comes to its target, and how long it takes.

    python3 -m bench.sound [--runs 5]

Prints a markdown section for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import tempfile
import time
from pathlib import Path

from vfbuild.media import mix
from vfbuild.media.probe import probe
from vfbuild.providers.local import bed, speech

LINE = "Winter was long. Spring was worth the drive."
CUT = 23.5  # the example film's length
START = 15.0  # where its line starts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    runs = ap.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        voice = d / "voice.wav"
        times, shas = [], set()
        for _ in range(runs):
            t = time.perf_counter()
            speech.speak(voice, LINE, voice="en+m3", rate=160, pitch=50)
            times.append(time.perf_counter() - t)
            shas.add(hashlib.sha256(voice.read_bytes()).hexdigest())
        reading = probe(voice).audio_duration or 0.0
        music = d / "bed.wav"
        t = time.perf_counter()
        bed.render_bed(music, seconds=24, seed=0, prompt="warm hopeful strings")
        bed_time = time.perf_counter() - t
        mix_times, errors = [], []
        for target in (-14.0, -23.0):
            for _ in range(runs):
                out = d / "mix.wav"
                t = time.perf_counter()
                mix.render_mix(
                    out,
                    dialogue=[mix.Placed(START, voice, 4.5)],
                    music=mix.Music(music),
                    seconds=CUT,
                    loudness=target,
                    true_peak=-1.0,
                )
                mix_times.append(time.perf_counter() - t)
            got = mix.measure(out)
            errors.append((target, got.integrated, got.true_peak))
        stem = d / "stem.wav"
        mix.render_music_stem(
            stem, dialogue=[mix.Placed(START, voice, 4.5)], music=mix.Music(music), seconds=CUT
        )
        during = mix.rms_db(stem, START + 0.3, START + reading - 0.2)
        outside = mix.rms_db(stem, 1.0, START - 0.5)
    print("## Sound (`python3 -m bench.sound`)\n")
    print("| measure | value |\n| --- | ---: |")
    print(
        f"| eSpeak NG reading of a 9-word line (fresh process each) | "
        f"{statistics.median(times) * 1000:.0f} ms, {reading:.2f} s of speech |"
    )
    print(f"| same line, {runs} readings: distinct files | {len(shas)} |")
    print(f"| previz bed, 24 s | {bed_time * 1000:.0f} ms |")
    print(
        f"| mix of a 23.5 s cut (two loudnorm passes) | "
        f"{statistics.median(mix_times) * 1000:.0f} ms |"
    )
    print(f"| music under the line vs. outside it | {during - outside:+.1f} dB |")
    for target, got, peak in errors:
        print(
            f"| target {target:g} LUFS: integrated, true peak | {got:.2f} LUFS, {peak:.2f} dBTP |"
        )


if __name__ == "__main__":
    main()
