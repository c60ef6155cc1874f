"""The SAA-LP over all products at catalogue scale: one process vs P ranks.

Instance `generate("sparse", N, N, seed)` saved to a temporary file; K scenarios of first-choice
counts (`first_choice_counts`, the draws of ``saa-lp-all``). Single process, each capped at
--cap seconds: `solve_saa_lp` with ``method="monolithic"`` (HiGHS on the sparse SAA-LP, what
``saa-lp-all`` does) and ``method="decomposition"`` (the L-shaped decomposition in one process,
tolerance --rel-gap). MPI: ``mpiexec -n P python -m mpi4py -m assortopt solve ... --method
saa-lp-all --mpi --decomposition D`` for each D, with --time-limit --cap (wall time measured
around the whole command, including Python start-up on every rank); the in-sample SAA-LP
objective, bound and certified gap are read from the solution file (extra.mpi_*).

    python benchmarks/bench_mpi.py [--n 1000] [--scenarios 200] [--ranks 2] [--cap 600]
        [--rel-gap 1e-3] [--decompositions lshaped ph ef]
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

from assortopt.generators import generate_file
from assortopt.models.saa_lp import solve_saa_lp
from assortopt.models.scenario_data import first_choice_counts
from assortopt.solver import SolverOptions


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--scenarios", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--cap", type=float, default=600.0)
    ap.add_argument("--rel-gap", type=float, default=1e-3)
    ap.add_argument("--decompositions", nargs="+", default=["lshaped"])
    ap.add_argument("--skip-monolithic", action="store_true")
    ap.add_argument("--skip-single", action="store_true", help="only the MPI runs")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-mpi-"))
    path = tmp / f"sparse-n{a.n}.json"
    inst = generate_file("sparse", a.n, a.n, a.seed, path)
    print(
        f"instance sparse N={a.n} T={a.n} seed={a.seed}, K={a.scenarios}, "
        f"{inst.transitions.nnz} arcs"
    )

    counts = first_choice_counts(inst, None, a.scenarios, 0)
    opts = SolverOptions(time_limit=a.cap, threads=1)
    if not (a.skip_monolithic or a.skip_single):
        t0 = time.perf_counter()
        res = solve_saa_lp(inst, counts, None, opts, method="monolithic")
        print(
            f"1 process monolithic   : {time.perf_counter() - t0:8.1f} s  status {res.status:8s} "
            f"objective {res.objective:.4f} ({res.iterations} simplex iterations)",
            flush=True,
        )
    ref = None
    if not a.skip_single:
        t0 = time.perf_counter()
        res = solve_saa_lp(inst, counts, None, opts, method="decomposition", tol=a.rel_gap)
        ref = res.objective
        st = res.extra["stats"]
        print(
            f"1 process decomposition: {time.perf_counter() - t0:8.1f} s  status {res.status:8s} "
            f"objective {res.objective:.4f} bound {st.upper:.4f} gap {res.extra['gap']:.2e} "
            f"({st.iterations} iterations, {st.exact_solves} exact scenario solves "
            f"{st.sub_s:.0f} s, master {st.master_s:.0f} s)",
            flush=True,
        )
    mpiexec = str(Path(sys.executable).with_name("mpiexec"))
    for dec in a.decompositions:
        out = tmp / f"{dec}.json"
        cmd = [
            mpiexec, "-n", str(a.ranks), sys.executable, "-m", "mpi4py", "-m", "assortopt",
            "solve", str(path), "--method", "saa-lp-all", "--mpi", "--decomposition", dec,
            "--scenarios", str(a.scenarios), "--seed", "0", "--eval-reps", "0",
            "--time-limit", str(a.cap), "--threads", "1", "--param", f"rel_gap={a.rel_gap}",
            "-o", str(out),
        ]  # fmt: skip
        t0 = time.perf_counter()
        try:
            p = subprocess.run(
                cmd, capture_output=True, text=True, timeout=a.cap + 120,
                env={**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"},
            )  # fmt: skip
            wall = time.perf_counter() - t0
        except subprocess.TimeoutExpired:
            print(f"mpi {dec:8s} -n {a.ranks}: killed after {a.cap + 120:.0f} s")
            continue
        if p.returncode != 0 or not out.exists():
            tail = (p.stderr.strip().splitlines() or ["?"])[-1]
            print(f"mpi {dec:8s} -n {a.ranks}: exit {p.returncode} after {wall:.1f} s: {tail}")
            continue
        ex = json.loads(out.read_text())["extra"]
        obj, bound, gap = ex.get("mpi_objective"), ex.get("mpi_bound"), ex.get("mpi_gap")
        more = {k: ex[k] for k in ("iterations", "exact_solves_per_rank", "scenario_s") if k in ex}
        print(
            f"{a.ranks} ranks {dec:16s}: {wall:8.1f} s  status {ex['mpi_status']:8s} "
            f"objective {obj} bound {bound} gap {gap} "
            f"(objective vs 1-process decomposition: "
            f"{None if obj is None or ref is None else f'{obj - ref:+.4g}'}) {more}",
            flush=True,
        )


if __name__ == "__main__":
    main()
