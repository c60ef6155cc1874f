"""Catalogue scale: wall time and peak memory per phase at N = 10³ … 10⁶ (issue 21).

    python benchmarks/bench_scale.py [--sizes 1000,10000,100000] [--k 8] [--seed 0]
        [--highs-max 100000] [--highs-limit 60] [--heuristic-max 100000] [--reps 200]
        [--json-max 10000]

For each N: a `sparse` instance with T = N customers and k neighbours (`assortopt.generate`),
saved and loaded as .npz (and as JSON up to ``--json-max``), the LP bound by optimal stopping
and by HiGHS (up to ``--highs-max``, capped at ``--highs-limit`` seconds) in the same run, the
heuristic with its steps (bound, pruning, quantities, simulated rounding) up to
``--heuristic-max``, and an out-of-sample evaluation with ``--reps`` seasons. Memory: the
process's peak resident set so far (``ru_maxrss``), and with ``--trace-python`` the
Python-level peak of the phase (tracemalloc; numba's own allocations are not in it). tracemalloc
slows Python-level code several times over, so it is off by default and the times printed are
untraced unless the flag is given. Timings on a shared machine are noisy: compare ratios within
one run.

    python benchmarks/bench_scale.py ... [--trace-python]
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from typing import Any

from assortopt.generators import generate
from assortopt.instance import load_instance, save_instance
from assortopt.methods.base import PlanRequest, get_method
from assortopt.models.lp_bound import lp_bound
from assortopt.simulation import simulate
from assortopt.solver import SolverOptions


def rss_mb() -> float:
    """Peak resident set of this process so far, MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Phases:
    """Collects (name, seconds, python peak MB, process peak MB) rows and prints them."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.rows: list[tuple[str, float, float, float, str]] = []

    def run(self, name: str, fn: Any, *args: Any, note: str = "", **kw: Any) -> Any:
        gc.collect()
        traced = tracemalloc.is_tracing()
        if traced:
            tracemalloc.reset_peak()
        t0 = time.perf_counter()
        out = fn(*args, **kw)
        dt = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1] / 2**20 if traced else float("nan")
        self.add(name, dt, peak, note)
        return out

    def add(self, name: str, seconds: float, peak: float = float("nan"), note: str = "") -> None:
        self.rows.append((name, seconds, peak, rss_mb(), note))
        print(
            f"N={self.n:>8}  {name:<24} {seconds:9.3f} s  py-peak {peak:8.1f} MB  "
            f"rss-peak {rss_mb():8.1f} MB  {note}",
            flush=True,
        )


def bench(n: int, a: argparse.Namespace) -> None:
    ph = Phases(n)
    print(f"N={n:>8}  load average {os.getloadavg()[0]:.1f}", flush=True)
    inst = ph.run("generate", generate, "sparse", n, n, a.seed, k=a.k)
    with tempfile.TemporaryDirectory() as tmp:
        p = os.path.join(tmp, "x.npz")
        ph.run("save npz", save_instance, inst, p)
        inst = ph.run("load npz", load_instance, p, note=f"{os.path.getsize(p) / 1e6:.1f} MB file")
        if n <= a.json_max:
            q = os.path.join(tmp, "x.json")
            ph.run("save json", save_instance, inst, q)
            ph.run("load json", load_instance, q, note=f"{os.path.getsize(q) / 1e6:.1f} MB file")
    b = ph.run("bound (stopping)", lp_bound, inst, method="stopping")
    print(f"{'':>12}stopping: value {b.value:.10g}, |S*| = {int(b.offered.sum())}, {b.status}")
    if n <= a.highs_max:
        h = ph.run(
            "bound (HiGHS)",
            lp_bound,
            inst,
            SolverOptions(time_limit=a.highs_limit),
            method="highs",
        )
        if h.status == "optimal":
            rel = abs(h.value - b.value) / max(1.0, abs(h.value))
            same = bool((h.offered == b.offered).all())
            print(
                f"{'':>12}HiGHS: value {h.value:.10g} (relative difference {rel:.1e}), "
                f"same S*: {same}; HiGHS / stopping time = "
                f"{ph.rows[-1][1] / max(ph.rows[-2][1], 1e-9):.0f}x"
            )
        else:
            print(f"{'':>12}HiGHS: {h.status} within {a.highs_limit} s")
    if n > a.heuristic_max:
        return
    req = PlanRequest(seed=1)
    plan = ph.run("heuristic (total)", get_method("heuristic"), inst, req)
    x = plan.extra
    other = x["total_s"] - x["bound_s"] - x["prune_s"] - x["simulate_s"]
    for name, key in (
        ("  bound", "bound_s"),
        ("  pruning", "prune_s"),
        ("  rounding", "simulate_s"),
    ):
        ph.add(name, float(x[key]))
    ph.add("  quantities + stream", other, note=x["quantities"])
    print(
        f"{'':>12}|S*| {x['s_star']}, kept {x['kept']}, stocked {x['stocked']}, "
        f"units {x['units']}, in-sample {plan.objective:.6g}"
    )
    ev = ph.run("evaluation", simulate, inst, plan.stock, a.reps, 2)
    print(f"{'':>12}out of sample: {ev.mean:.6g} ± {ev.stderr:.3g} ({a.reps} seasons)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,100000,1000000")
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--highs-max", type=int, default=100000)
    ap.add_argument("--highs-limit", type=float, default=60.0)
    ap.add_argument("--heuristic-max", type=int, default=100000)
    ap.add_argument("--json-max", type=int, default=10000)
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--trace-python", action="store_true", help="tracemalloc peaks (slow)")
    a = ap.parse_args(argv)
    sizes = [int(s) for s in a.sizes.split(",") if s.strip()]
    if a.trace_python:
        tracemalloc.start()
    print(
        f"python {sys.version.split()[0]}, cpus {os.cpu_count()}, "
        f"tracemalloc {'on' if a.trace_python else 'off'}, load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    for n in sizes:
        bench(n, a)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
