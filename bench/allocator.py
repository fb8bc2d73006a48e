"""Mesos' ``DeclineOffers`` allocator benchmark, run against mesos_py's DRF allocator.

The shape follows ``HierarchicalAllocator_BENCHMARK_Test.DeclineOffers`` in
apache/mesos ``src/tests/hierarchical_allocator_tests.cpp``:

* F frameworks, all in role ``*``;
* A agents of ``cpus:24;mem:4096;disk:4096;ports:[31000-32000]``, each with
  ``cpus:16;mem:2014;disk:1024`` and 16 port ranges (31000, 31002, ...,
  31028 and 31030-32000) already allocated to framework ``i % F``;
* every round, each outstanding offer is declined with ``refuse_seconds`` =
  INT_MAX (the allocator caps it at 365 days), then one ``allocate()`` is
  timed. Mesos loops 2F times; after F offering rounds every framework has
  refused every agent and the rounds make no offers.

Mesos allocates as soon as agents are added, so its round 0 starts with one
filter per agent. Here ``allocate()`` only runs when asked, so one untimed
"initial" round is run and declined first, to start from the same state.

Usage: ``python bench/allocator.py [--quick] [--rounds N] [--full] [--size AxF] [--verbose]``
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from mesos_py.allocator import Allocation, DRFAllocator
from mesos_py.common.resources import Resources

INT_MAX = 2**31 - 1
AGENT = "cpus:24;mem:4096;disk:4096;ports:[31000-32000]"
SIZES = [(1_000, 100), (5_000, 500), (10_000, 1_000)]

# Seconds per allocate() round, from the Mesos 1.7 blog's allocation-cycle chart
# (values read off the chart, about ±10 %; all frameworks in one role, no filters).
MESOS_ROUND = {(1_000, 100): (0.25, 0.05), (5_000, 500): (1.9, 0.4), (10_000, 1_000): (6.3, 1.1)}


def fragmented_ports(begin: int, end: int, count: int) -> str:
    """`count` one-port ranges every other port, the last one running to `end`."""
    ports = [f"{begin + 2 * i}-{begin + 2 * i}" for i in range(count - 1)]
    ports.append(f"{begin + 2 * (count - 1)}-{end}")
    return "[" + ",".join(ports) + "]"


@dataclass
class Result:
    agents: int
    frameworks: int
    add_frameworks: float = 0.0
    add_agents: float = 0.0
    initial: float = 0.0
    # per round: allocate() wall seconds, its CPU seconds, offers made, and the wall
    # seconds spent declining the previous round's offers (0.0 when there were none)
    rounds: list[tuple[float, float, int, float]] = field(default_factory=list)
    full_gcs: int = 0


def run(agents: int, frameworks: int, rounds: int, verbose: bool) -> Result:
    result = Result(agents, frameworks)
    alloc = DRFAllocator(seed=0)

    started = time.perf_counter()
    for i in range(frameworks):
        alloc.add_framework(f"framework{i}", ["*"])
    result.add_frameworks = time.perf_counter() - started

    total = Resources.parse(AGENT)
    used = Resources.parse(
        f"cpus:16;mem:2014;disk:1024;ports:{fragmented_ports(31000, 32000, 16)}"
    ).allocated_to("*")
    started = time.perf_counter()
    for i in range(agents):
        alloc.add_agent(f"agent{i}", total, allocated={f"framework{i % frameworks}": used})
    result.add_agents = time.perf_counter() - started

    now = 0.0
    started = time.perf_counter()
    offers = alloc.allocate(now)
    result.initial = time.perf_counter() - started
    declined = 0
    gen2_before = gc.get_stats()[2]["collections"]
    for r in range(rounds):
        started = time.perf_counter()
        for offer in offers:
            decline(alloc, offer, now)
        decline_time = time.perf_counter() - started if offers else 0.0
        declined += len(offers)
        now += 1.0
        cpu = time.process_time()
        started = time.perf_counter()
        offers = alloc.allocate(now)
        took = time.perf_counter() - started
        cpu = time.process_time() - cpu
        result.rounds.append((took, cpu, len(offers), decline_time))
        if verbose:
            print(
                f"  round {r} allocate() took {took:.3f}s to make {len(offers)} offers"
                f" after filtering {declined} offers (declining took {decline_time:.3f}s)"
            )
    result.full_gcs = gc.get_stats()[2]["collections"] - gen2_before
    return result


def decline(alloc: DRFAllocator, offer: Allocation, now: float) -> None:
    alloc.recover(
        offer.framework_id, offer.agent_id, offer.resources, now=now, refuse_seconds=INT_MAX
    )


def spread(values: list[float]) -> str:
    if not values:
        return "      -       -       -"
    return f"{min(values):7.3f} {statistics.median(values):7.3f} {max(values):7.3f}"


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def label(agents: int, frameworks: int) -> str:
    return f"{agents // 1000}k x {frameworks}"


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{model}, nproc={os.cpu_count()}, Python {platform.python_version()}"
        f" ({platform.python_implementation()}), {platform.system()} {platform.release()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1k agents x 100 frameworks only")
    parser.add_argument("--rounds", type=int, default=10, help="timed rounds per size (default 10)")
    parser.add_argument(
        "--full",
        action="store_true",
        help="run Mesos' whole 2F rounds for every size (slow and memory-hungry at 10k x 1k)",
    )
    parser.add_argument(
        "--size",
        action="append",
        choices=[f"{a}x{f}" for a, f in SIZES],
        help="run only this size (repeatable)",
    )
    parser.add_argument("--verbose", action="store_true", help="print every round")
    args = parser.parse_args()

    sizes = SIZES[:1] if args.quick else SIZES
    if args.size:
        sizes = [(a, f) for a, f in SIZES if f"{a}x{f}" in args.size]
    print(f"machine: {machine()}")
    results = []
    for agents, frameworks in sizes:
        # The smallest size always runs Mesos' complete loop: it is quick and
        # shows both the offering rounds and the fully refused ones.
        whole = args.full or (agents, frameworks) == SIZES[0]
        rounds = 2 * frameworks if whole else args.rounds
        print(f"DeclineOffers: {agents} agents x {frameworks} frameworks, {rounds} rounds")
        result = run(agents, frameworks, rounds, args.verbose)
        print(
            f"  added {frameworks} frameworks in {result.add_frameworks * 1000:.1f} ms,"
            f" {agents} agents in {result.add_agents:.3f} s;"
            f" initial allocate() {result.initial:.3f} s"
        )
        results.append(result)

    print()
    print("seconds per allocate() round: wall clock min/median/max, CPU median;")
    print("decline: median seconds to decline one round's offers (Mesos does not time it);")
    print("Mesos figures per round from the 1.7 blog chart (about +-10 %)")
    print(
        f"{'size':11} {'rounds':>6} {'offers':>6}   {'min':>7} {'median':>7} {'max':>7}"
        f" {'cpu':>7}   {'decline':>7}   {'Mesos 1.6':>9} {'Mesos 1.8':>9}"
    )
    for r in results:
        offering = [(t, c) for t, c, n, _ in r.rounds if n]
        refused = [(t, c) for t, c, n, _ in r.rounds if not n]
        declines = [d for _, _, _, d in r.rounds if d]
        mesos16, mesos18 = MESOS_ROUND[(r.agents, r.frameworks)]
        print(
            f"{label(r.agents, r.frameworks):11} {len(offering):6d}"
            f" {round(median([n for _, _, n, _ in r.rounds if n])):6d}"
            f"   {spread([t for t, _ in offering])} {median([c for _, c in offering]):7.3f}"
            f"   {median(declines):7.3f}   {mesos16:9.2f} {mesos18:9.2f}"
        )
        if refused:
            print(
                f"{'':11} {len(refused):6d} {0:6d}   {spread([t for t, _ in refused])}"
                f" {median([c for _, c in refused]):7.3f}   (every offer refused)"
            )
        print(f"{'':11} full garbage collections during the rounds: {r.full_gcs}")
    big = [r for r in results if (r.agents, r.frameworks) == SIZES[-1]]
    if big:
        r = big[0]
        print(
            f"\nadd {r.agents} agents: {r.add_agents:.2f} s (Mesos: 3.96 s before, 1.61 s after"
            f" commit 86653356d); add {r.frameworks} frameworks: {r.add_frameworks * 1000:.0f} ms"
            " (Mesos: 29-40 ms)"
        )


if __name__ == "__main__":
    main()
