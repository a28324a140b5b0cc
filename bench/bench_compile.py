"""Benchmark: parse + validate + compile a very large profile.

Generates a profile of N roller segments (plain segments, ramps with every
curve, rests, and a few repeat blocks) plus airbag and heat tracks, then times
``parse_profile`` and ``compile_profile`` on it.

    python bench/bench_compile.py            # 10 000 segments, 7 runs
    python bench/bench_compile.py --quick    # CI smoke: 1 000 segments, 3 runs

The whole profile must stay within the format's limits (4 h, 100 000 steps),
so segments are short (1 s each).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time

from massager_ctl.profile import compile_profile, parse_profile, toml_reader

TECHNIQUES = ("knead", "shiatsu", "tap", "knock", "roll", "vibrate")
ZONES = ("neck", "shoulders", "upper_back", "mid_back", "lower_back", "seat")
CURVES = ("linear", "ease-in", "ease-out", "ease-in-out")


def make_profile(segments: int) -> str:
    """Profile text with ``segments`` [[segment]] entries (blocks count as one)."""
    out = [
        "format = 1",
        'name = "Benchmark"',
        'description = "A generated profile, only for timing."',
        'benefit = "relaxation"',
        'author = "bench"',
        "",
        "[limits]",
        "max_intensity = 90",
        "",
        "[defaults]",
        "speed = 40",
        'width = "medium"',
        "",
    ]
    for i in range(segments):
        out.append("[[segment]]")
        if i % 2500 == 1:  # a few repeat blocks
            out += [f'name = "block {i}"', "repeat = 3"]
            for j in range(3):
                out += [
                    "  [[segment.steps]]",
                    '  duration = "1s"',
                    f'  technique = "{TECHNIQUES[(i + j) % 6]}"',
                    f'  zones = ["{ZONES[j]}"]',
                    f"  intensity = {30 + j * 10}",
                ]
        elif i % 50 == 7:
            out += ['duration = "1s"', "rest = true"]
        elif i % 3 == 0:
            out += [
                f'name = "ramp {i}"',
                'duration = "1s"',
                f'technique = "{TECHNIQUES[i % 6]}"',
                f'zones = ["{ZONES[i % 6]}", "{ZONES[(i + 1) % 6]}"]',
                f'intensity = {{ from = {i % 40}, to = {40 + i % 50}, curve = "{CURVES[i % 4]}" }}',
                "speed = { from = 20, to = 60 }",
            ]
        else:
            out += [
                'duration = "1s"',
                f'technique = "{TECHNIQUES[i % 6]}"',
                f'zones = ["{ZONES[i % 6]}"]',
                f"intensity = {20 + i % 60}",
                'width = "wide"' if i % 5 == 0 else 'width = "narrow"',
            ]
        out.append("")
    for i in range(segments // 100):
        out += [
            "[[airbag]]",
            'duration = "30s"',
            'zones = ["calves", "feet"]' if i % 2 else "zones = []",
        ]
        if i % 2:
            out.append('pressure = { from = 20, to = 50, curve = "ease-in-out" }')
        out.append("")
    out += [
        "[[airbag]]",
        'name = "pulses"',
        "repeat = 20",
        "  [[airbag.steps]]",
        '  duration = "5s"',
        '  zones = ["seat"]',
        "  pressure = 40",
        "  [[airbag.steps]]",
        '  duration = "5s"',
        "  zones = []",
        "",
    ]
    for i in range(max(1, segments // 1000)):
        out += ["[[heat]]", 'duration = "1m"', f'level = "{("low", "high", "off")[i % 3]}"', ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="CI smoke mode: small and fast")
    ap.add_argument("--segments", type=int, help="number of [[segment]] entries")
    ap.add_argument("--runs", type=int, help="timed runs (best and median reported)")
    args = ap.parse_args(argv)
    segments = args.segments or (1_000 if args.quick else 10_000)
    runs = args.runs or (3 if args.quick else 7)

    text = make_profile(segments)
    parse_t: list[float] = []
    compile_t: list[float] = []
    total_t: list[float] = []
    plan = None
    for _ in range(runs):
        t0 = time.perf_counter()
        profile = parse_profile(text, "bench.toml")
        t1 = time.perf_counter()
        plan = compile_profile(profile)
        t2 = time.perf_counter()
        parse_t.append(t1 - t0)
        compile_t.append(t2 - t1)
        total_t.append(t2 - t0)
    assert plan is not None

    def ms(values: list[float]) -> str:
        return f"best {min(values) * 1000:7.1f} ms   median {statistics.median(values) * 1000:7.1f} ms"

    print(f"command:  python {' '.join(sys.argv)}")
    print(f"machine:  {platform.platform()}, {platform.machine()}, {platform.processor() or '?'}")
    print(f"python:   {platform.python_implementation()} {platform.python_version()}")
    parser = toml_reader.PARSER
    print(f"toml:     {parser.__name__} ({'compiled' if parser.__file__.endswith('.so') else 'pure Python'})")
    print(
        f"profile:  {segments:,} segments, {len(text):,} characters -> "
        f"{plan.step_count:,} steps (roller {len(plan.roller):,}, airbag {len(plan.airbag):,}, "
        f"heat {len(plan.heat):,}), {plan.duration_ms / 1000:,.0f} s"
    )
    print(f"runs:     {runs}")
    print(f"parse+validate  {ms(parse_t)}")
    print(f"compile         {ms(compile_t)}")
    print(f"total           {ms(total_t)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
