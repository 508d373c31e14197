"""Rotation schedule math: who-is-on-call latency and final-schedule expansion time.

    python bench/schedules.py [--instants 10000] [--overrides 1000] [--runs 7] [--passes 3]
                              [--seed 1]

The schedule (America/New_York, so two DST changes fall in the year) has five layers, four of
them restricted, and ``--overrides`` random overrides (30 minutes to 8 hours, created at random
times, so some overlap). Measured in this process, pure Python, no database:

  on_call         one call per random instant within the year (p50, p99, max), ``--passes``
                  times, keeping the pass with the lowest p99 (the least disturbed by other
                  processes); the override index is built before timing (its build time is
                  printed separately)
  on_call_by_layer  the same instants, with every layer evaluated
  on_call, no overrides  the same layers without overrides: every call goes through the
                  layers (top down, until one has someone)
  final_shifts    the whole year, median and min of ``--runs`` runs
  layer_shifts    the whole year for each layer, summed (median)

Nothing is asserted: the figures are printed. See bench/SCHEDULES.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shlex
import statistics
import sys
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from oncall.schedules.rotation import (
    Layer,
    Override,
    ScheduleSpec,
    final_shifts,
    layer_shifts,
    on_call,
    on_call_by_layer,
    parse_restriction,
    parse_rotation,
)
from oncall.schedules.rotation.overrides import OverrideIndex

YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)
YEAR_END = datetime(2027, 1, 1, tzinfo=UTC)


def build_schedule(overrides: int, seed: int) -> ScheduleSpec:
    rng = random.Random(seed)
    people = [f"user{i}@example.com" for i in range(12)]

    def layer(name: str, rotation: dict[str, object], members: list[str],
              *restrictions: dict[str, object]) -> Layer:
        return Layer(name, parse_rotation({**rotation, "start": "2025-12-29"}), tuple(members),
                     tuple(parse_restriction(r) for r in restrictions))

    layers = (
        layer("primary", {"rotation": "weekly", "handoff": "Mon 09:00"}, people[:6]),
        layer("business-hours", {"rotation": "daily", "handoff": "09:00"}, people[6:10],
              {"days": "Mon-Fri", "from": "09:00", "to": "17:00"}),
        layer("nights", {"rotation": {"hours": 12}, "handoff": "06:00"}, people[2:5],
              {"days": "Mon-Fri", "from": "22:00", "to": "06:00"}),
        layer("weekend", {"rotation": {"days": 2}, "handoff": "18:00"}, people[8:12],
              {"from": "Fri 18:00", "to": "Mon 09:00"}),
        layer("saturday-day", {"rotation": "daily", "handoff": "00:00"}, people[:3],
              {"days": ["Sat"], "from": "09:00", "to": "21:00"},
              {"days": ["Sun"], "from": "10:00", "to": "14:00"}),
    )
    year = (YEAR_END - YEAR_START).total_seconds()
    created = datetime(2025, 12, 1, tzinfo=UTC)
    ovs = []
    for i in range(overrides):
        start = YEAR_START + timedelta(seconds=rng.uniform(0, year))
        ovs.append(Override(start, start + timedelta(hours=rng.uniform(0.5, 8)),
                            rng.choice(people), created + timedelta(minutes=rng.randrange(10**6)),
                            id=i + 1))
    return ScheduleSpec("bench", "America/New_York", layers, tuple(ovs))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instants", type=int, default=10_000)
    parser.add_argument("--overrides", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    schedule = build_schedule(args.overrides, args.seed)

    t0 = time.perf_counter()
    OverrideIndex(schedule.overrides)
    index_ms = (time.perf_counter() - t0) * 1e3
    schedule.override_index()  # built once per ScheduleSpec, as a caller holding one would

    year = (YEAR_END - YEAR_START).total_seconds()
    instants = [YEAR_START + timedelta(seconds=rng.uniform(0, year))
                for _ in range(args.instants)]
    bare = replace(schedule, overrides=())
    runs = (("on_call", on_call, schedule), ("on_call_by_layer", on_call_by_layer, schedule),
            ("on_call, no overrides", on_call, bare))
    timings: dict[str, list[float]] = {}
    for key, fn, spec in runs:
        for at in instants[:200]:  # warm up
            fn(spec, at)
        passes = []
        for _ in range(args.passes):  # keep the least disturbed pass (the lowest p99)
            pass_ = []
            for at in instants:
                t = time.perf_counter_ns()
                fn(spec, at)
                pass_.append((time.perf_counter_ns() - t) / 1e3)
            passes.append(pass_)
        timings[key] = min(passes, key=lambda p: percentile(p, 0.99))
    covered = sum(schedule.override_index().at(at) is not None for at in instants)

    final_ms, layers_ms = [], []
    shifts = []
    tz = ZoneInfo(schedule.timezone)
    for _ in range(args.runs):
        t = time.perf_counter()
        shifts = final_shifts(schedule, YEAR_START, YEAR_END)
        final_ms.append((time.perf_counter() - t) * 1e3)
        t = time.perf_counter()
        for layer in schedule.layers:
            layer_shifts(layer, tz, YEAR_START, YEAR_END)
        layers_ms.append((time.perf_counter() - t) * 1e3)

    argv = " ".join(shlex.quote(a) for a in sys.argv[1:])
    print(f"command: python bench/schedules.py {argv}".rstrip())
    print(f"python {platform.python_version()} on {platform.machine()} "
          f"({os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}), {date.today().isoformat()}; "
          f"schedule: 5 layers (4 restricted), {len(schedule.overrides)} overrides, "
          f"America/New_York, 2026; an override covers {covered} of {len(instants)} instants")
    print()
    print(f"| measure (best of {args.passes} passes) | p50 | p99 | max |")
    print("| --- | --- | --- | --- |")
    for key, values in timings.items():
        print(f"| {key} ({len(values)} instants) | {percentile(values, 0.5):.1f} µs "
              f"| {percentile(values, 0.99):.1f} µs | {max(values):.1f} µs |")
    print()
    print("| measure | median | min |")
    print("| --- | --- | --- |")
    print(f"| final_shifts, one year ({len(shifts)} shifts, {args.runs} runs) "
          f"| {statistics.median(final_ms):.1f} ms | {min(final_ms):.1f} ms |")
    print(f"| layer_shifts, one year, all 5 layers | {statistics.median(layers_ms):.1f} ms "
          f"| {min(layers_ms):.1f} ms |")
    print(f"| override index build ({len(schedule.overrides)} overrides, once per spec) "
          f"| {index_ms:.1f} ms | |")


if __name__ == "__main__":
    main()
