"""Time limits hold: planning wall time of every method under ``--time-limit L``, over L.

For every registered method × limit L in --limits × shipped instance with at most --max-n
products, runs ``assortopt.solve(inst, method, time_limit=L, eval_reps=0)`` in this process and
prints two times:

* ``plan``: the planning wall time (``timings.plan_s``, the wall of the method's call: warm
  starts, LP relaxations, model building, presolve and rounding included). **The rule is judged
  on this time** (README.md, "Time limits"): plan ≤ L + max(0.1·L, 2 s).
* ``call``: the wall of the whole library call ``assortopt.solve`` (planning plus the solution
  file's LP bound and packaging, which are not planning). Python start-up, imports and numba
  compilation are in neither: warm-up solves of every method on chocolate and the tiny
  instances (one per chain family) run first.

Rows breaking the rule are marked OVER; the worst plan/L and the worst excess over the allowance
are printed at the end. ``--rerun FILE`` runs only the rows marked OVER in an earlier output of
this script; ``--trace`` prints, under each row, the assortopt functions that took more than
``--trace-min`` of the row's time (start offset and duration, nested by call depth), to find the
phase that overruns. Timings on a shared machine are noisy: read the ratios of one run.

    python benchmarks/bench_time_limits.py [--limits 0.01 1 20] [--max-n 1000]
        [--methods heuristic mip ...] [--instances chocolate sparse-n1000-t1000 ...] [-k 100]
        [--rerun benchmarks/results/time_limits.txt] [--trace [--trace-min 0.1]]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from assortopt.api import solve
from assortopt.instance import load_instance
from assortopt.methods.base import list_methods

ROOT = Path(__file__).resolve().parents[1]


def allowance(limit: float) -> float:
    """The wall time `solve` may take under ``--time-limit limit``."""
    return limit + max(0.1 * limit, 2.0)


def shipped(max_n: int, names: list[str] | None) -> list[Path]:
    out = []
    for p in sorted((ROOT / "instances").glob("*.json")):
        if p.name.endswith(".online.json"):
            continue  # a ground-truth model, not an instance
        if names and p.stem not in names:
            continue
        if load_instance(p).n <= max_n:
            out.append(p)
    return out


def over_rows(path: Path) -> set[tuple[str, str, float]]:
    """(instance, method, limit) of every row marked OVER in an earlier output of this script."""
    rows = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        f = line.split()
        if len(f) >= 3 and f[-1] == "OVER":
            rows.add((f[0], f[1], float(f[2])))
    return rows


class Tracer:
    """Wall time of every assortopt function call (sys.setprofile), to find the slow phase."""

    def __init__(self) -> None:
        self.pkg = str(ROOT / "assortopt")
        self.stack: list[tuple[str, float]] = []
        self.stack_frames: list = []
        self.done: list[tuple[int, str, float, float]] = []

    def __call__(self, frame, event, arg):  # noqa: ANN001, ANN204
        if event == "call" and frame.f_code.co_filename.startswith(self.pkg):
            code = frame.f_code
            mod = Path(code.co_filename).stem
            self.stack.append((f"{mod}.{code.co_qualname}", time.perf_counter()))
            self.stack_frames.append(frame)
        elif event == "return" and self.stack_frames and frame is self.stack_frames[-1]:
            self.stack_frames.pop()
            name, t = self.stack.pop()
            self.done.append((len(self.stack), name, t, time.perf_counter() - t))

    def run(self, fn):  # noqa: ANN001, ANN201
        self.stack, self.stack_frames, self.done = [], [], []
        sys.setprofile(self)
        try:
            return fn()
        finally:
            sys.setprofile(None)

    def report(self, t0: float, min_s: float) -> None:
        for depth, name, t, d in sorted(self.done, key=lambda r: r[2]):
            if d >= min_s:
                print(f"    {'  ' * depth}{name:60s} at {t - t0:7.2f} s took {d:7.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limits", type=float, nargs="+", default=[0.01, 1.0, 20.0])
    ap.add_argument("--max-n", type=int, default=1000)
    ap.add_argument("--methods", nargs="+", default=None)
    ap.add_argument("--instances", nargs="+", default=None, help="file stems (default: all)")
    ap.add_argument("-k", "--scenarios", type=int, default=100)
    ap.add_argument("--rerun", type=Path, default=None, help="only the OVER rows of this output")
    ap.add_argument("--trace", action="store_true", help="print the slow calls under each row")
    ap.add_argument("--trace-min", type=float, default=0.1, help="seconds (with --trace)")
    a = ap.parse_args()
    only = over_rows(a.rerun) if a.rerun else None
    if only is not None:
        a.methods = a.methods or sorted({m for _, m, _ in only})
        a.instances = a.instances or sorted({i for i, _, _ in only})
        a.limits = sorted({lim for _, _, lim in only})
    methods = a.methods or list(list_methods())
    files = shipped(a.max_n, a.instances)
    # compile the numba kernels outside the measurements: every method on chocolate and on
    # each tiny instance (one per chain family: the samplers differ by family)
    warm = [ROOT / "instances" / "chocolate.json", *sorted((ROOT / "instances").glob("tiny-*"))]
    for w in warm:
        for m in methods:
            solve(load_instance(w), m, scenarios=5, eval_reps=0, time_limit=5.0)
    print(
        f"{'instance':24s} {'method':18s} {'limit':>7s} {'plan':>8s} {'plan/L':>8s} "
        f"{'call':>8s} {'status':>10s} {'termination':>14s}"
    )
    worst_ratio, worst_excess, over, runs = 0.0, -float("inf"), 0, 0
    tracer = Tracer()
    for path in files:
        inst = load_instance(path)
        for m in methods:
            for lim in a.limits:
                if only is not None and (path.stem, m, lim) not in only:
                    continue
                runs += 1
                t0 = time.perf_counter()

                def call(inst: object = inst, m: str = m, lim: float = lim) -> object:
                    return solve(inst, m, scenarios=a.scenarios, eval_reps=0, time_limit=lim)

                try:
                    sol = tracer.run(call) if a.trace else call()
                    call_s = time.perf_counter() - t0
                    plan_s = sol.timings["plan_s"]
                    status, term = sol.status, sol.plan.termination.value
                except Exception as exc:  # noqa: BLE001  (a crash is a finding: print it)
                    plan_s = call_s = time.perf_counter() - t0
                    status, term = "CRASH", type(exc).__name__
                excess = plan_s - allowance(lim)
                flag = "  OVER" if excess > 0 else ""
                over += excess > 0
                worst_ratio = max(worst_ratio, plan_s / lim)
                worst_excess = max(worst_excess, excess)
                print(
                    f"{path.stem:24s} {m:18s} {lim:7.2f} {plan_s:8.2f} {plan_s / lim:8.1f} "
                    f"{call_s:8.2f} {status:>10s} {term:>14s}{flag}",
                    flush=True,
                )
                if a.trace:
                    tracer.report(t0, a.trace_min)
    print(
        f"\n{runs} runs; worst plan/L {worst_ratio:.1f}; worst excess of the planning time over "
        f"L + max(0.1 L, 2 s): {worst_excess:+.2f} s; {over} run(s) over the allowance",
        file=sys.stdout,
    )


if __name__ == "__main__":
    main()
