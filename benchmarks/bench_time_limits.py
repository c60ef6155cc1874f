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

With ``--mpi`` the same rule is judged on MPI runs instead: ``mpiexec -n 2 python -m mpi4py -m
assortopt solve INSTANCE --mpi --decomposition D`` for the method/decomposition pairs of
`MPI_RUNS` (``gap/spill-mip``: ``assortopt gap INSTANCE SOLUTION --time-limit L`` under mpiexec,
on the heuristic's plan) on `MPI_INSTANCES`, limits 1 and 20 s unless --limits says otherwise.
``plan`` is then the solution file's ``timings.plan_s`` (for gap: its ``wall_s``, the wall of
the replications on rank 0 up to the estimate), ``call`` the wall of the whole mpiexec command
(Python start-up and imports on every rank included).

Rows breaking the rule are marked OVER; the worst plan/L and the worst excess over the allowance
are printed at the end. ``--rerun FILE`` runs only the rows marked OVER in an earlier output of
this script; ``--trace`` prints, under each row, the assortopt functions that took more than
``--trace-min`` of the row's time (start offset and duration, nested by call depth), to find the
phase that overruns. Timings on a shared machine are noisy: read the ratios of one run.

    python benchmarks/bench_time_limits.py [--limits 0.01 1 20] [--max-n 1000]
        [--methods heuristic mip ...] [--instances chocolate sparse-n1000-t1000 ...] [-k 100]
        [--rerun benchmarks/results/time_limits.txt] [--trace [--trace-min 0.1]]
    python benchmarks/bench_time_limits.py --mpi [--limits 1 20] [--methods spill-mip/ph ...]
        [--instances chocolate ...] [-k 100] [--ranks 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from assortopt.api import solve
from assortopt.bench.rerun import allowance
from assortopt.instance import load_instance
from assortopt.methods.base import list_methods
from assortopt.solution import write_solution

ROOT = Path(__file__).resolve().parents[1]
#: method/decomposition pairs of --mpi (README.md, "Running on a cluster"); gap/MODEL is
#: ``assortopt gap --model MODEL`` under mpiexec
MPI_RUNS = (
    "saa-lp-all/ef",
    "saa-lp-all/lshaped",
    "saa-lp-all/ph",
    "spill-mip/ef",
    "spill-mip/ph",
    "mip/ef",
    "mip/ph",
    "gap/spill-mip",
)
MPI_INSTANCES = ("chocolate", "mnl-n50-t100", "sparse-n1000-t1000")


class Tally:
    """Judges and prints rows against `allowance`; the summary line at the end."""

    def __init__(self) -> None:
        self.worst_ratio, self.worst_excess, self.over, self.runs = 0.0, -float("inf"), 0, 0
        self.failed = 0
        print(
            f"{'instance':24s} {'method':18s} {'limit':>7s} {'plan':>8s} {'plan/L':>8s} "
            f"{'call':>8s} {'status':>10s} {'termination':>14s}"
        )

    def row(self, name: str, method: str, lim: float, plan_s: float | None, call_s: float,
            status: str, term: str) -> None:  # fmt: skip
        """One row; ``plan_s`` None: a command that failed without a planning time (counted,
        not judged; its line says why)."""
        self.runs += 1
        if plan_s is None:
            self.failed += 1
            print(f"{name:24s} {method:18s} {lim:7.2f} {'-':>8s} {'-':>8s} {call_s:8.2f} "
                  f"{status:>10s} {term:>14s}", flush=True)  # fmt: skip
            return
        excess = plan_s - allowance(lim)
        flag = "  OVER" if excess > 0 else ""
        self.over += excess > 0
        self.worst_ratio = max(self.worst_ratio, plan_s / lim)
        self.worst_excess = max(self.worst_excess, excess)
        print(
            f"{name:24s} {method:18s} {lim:7.2f} {plan_s:8.2f} {plan_s / lim:8.1f} "
            f"{call_s:8.2f} {status:>10s} {term:>14s}{flag}",
            flush=True,
        )

    def summary(self) -> None:
        print(
            f"\n{self.runs} runs; worst plan/L {self.worst_ratio:.1f}; worst excess of the "
            f"planning time over L + max(0.1 L, 2 s): {self.worst_excess:+.2f} s; "
            f"{self.over} run(s) over the allowance"
            + (f"; {self.failed} command(s) failed (not judged)" if self.failed else "")
        )


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
    ap.add_argument("--mpi", action="store_true", help="judge MPI runs (MPI_RUNS) instead")
    ap.add_argument("--ranks", type=int, default=2, help="MPI ranks (with --mpi)")
    a = ap.parse_args()
    if a.mpi:
        return run_mpi(a)
    only = over_rows(a.rerun) if a.rerun else None
    if only is not None:
        a.methods = a.methods or sorted({m for _, m, _ in only})
        a.instances = a.instances or sorted({i for i, _, _ in only})
        a.limits = sorted({lim for _, _, lim in only})
    methods = a.methods or list(list_methods())
    files = shipped(a.max_n, a.instances)
    # compile the numba kernels outside the measurements: every method on chocolate and on
    # each tiny instance (one per chain family: the samplers differ by family), and on the first
    # instance of at least 200 products, whose batches of moves reach the threaded move scoring
    # (local_search.PARALLEL_MOVES; its first compilation took 6.4 s inside a measured row)
    warm = [ROOT / "instances" / "chocolate.json", *sorted((ROOT / "instances").glob("tiny-*"))]
    warm += [p for p in files if load_instance(p).n >= 200][:1]
    for w in warm:
        for m in methods:
            solve(load_instance(w), m, scenarios=5, eval_reps=0, time_limit=5.0)
    tally = Tally()
    tracer = Tracer()
    for path in files:
        inst = load_instance(path)
        for m in methods:
            for lim in a.limits:
                if only is not None and (path.stem, m, lim) not in only:
                    continue
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
                tally.row(path.stem, m, lim, plan_s, call_s, status, term)
                if a.trace:
                    tracer.report(t0, a.trace_min)
    tally.summary()


def run_mpi(a: argparse.Namespace) -> None:
    """The --mpi mode: every `MPI_RUNS` pair × limit × instance under ``mpiexec -n RANKS``."""
    mpiexec = str(Path(sys.executable).with_name("mpiexec"))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).strip(os.pathsep)
    runs = [r for r in MPI_RUNS if not a.methods or r in a.methods]
    limits = [1.0, 20.0] if a.limits == [0.01, 1.0, 20.0] else a.limits
    names = a.instances or list(MPI_INSTANCES)
    tally = Tally()
    with tempfile.TemporaryDirectory() as tmp:  # mpi-sppy leaves *.log files where it runs
        for name in names:
            path = ROOT / "instances" / f"{name}.json"
            plan_file = Path(tmp) / f"{name}.plan.json"
            if any(r.startswith("gap/") for r in runs):  # the plan gap judges: the heuristic's
                sol = solve(load_instance(path), "heuristic", scenarios=a.scenarios, eval_reps=0)
                write_solution(plan_file, sol.to_dict())
            for run in runs:
                method, how = run.split("/")
                for lim in limits:
                    out = Path(tmp) / "out.json"
                    out.unlink(missing_ok=True)
                    if method == "gap":
                        args = ["gap", str(path), str(plan_file), "--model", how]
                    else:
                        args = ["solve", str(path), "--method", method, "--mpi",
                                "--decomposition", how, "--scenarios", str(a.scenarios),
                                "--eval-reps", "0", "--output", str(out)]  # fmt: skip
                    cmd = [mpiexec, "-n", str(a.ranks), sys.executable, "-m", "mpi4py",
                           "-m", "assortopt", *args, "--time-limit", f"{lim:g}"]  # fmt: skip
                    t0 = time.perf_counter()
                    p = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp)
                    call_s = time.perf_counter() - t0
                    if p.returncode != 0 and not (method != "gap" and out.exists()):
                        lines = p.stderr.strip().splitlines() or ["?"]
                        # the failing rank's one line, not mpiexec's "Abort(...)" after it
                        line = next((x for x in lines if x.startswith("assortopt")), lines[-1])
                        print(f"    exit {p.returncode}: {line[:160]}")
                        tally.row(name, run, lim, None, call_s, "CRASH", f"exit{p.returncode}")
                        continue
                    if method == "gap":
                        d = json.loads(p.stdout)
                        plan_s, status = d["wall_s"], "estimate"
                        term = f"{d['not_optimal']}/{d['replications']}open"
                    else:
                        d = json.loads(out.read_text())
                        plan_s, status = d["timings"]["plan_s"], d["status"]
                        term = d.get("termination", "?")
                    tally.row(name, run, lim, plan_s, call_s, status, term)
    tally.summary()


if __name__ == "__main__":
    main()
