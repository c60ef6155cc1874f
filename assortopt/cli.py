"""The ``assortopt`` command line. It only parses and prints: every command is one library call.

Exit status: 0 success, 2 bad input (invalid file, bad option; one line, no traceback),
1 anything else.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .exceptions import AssortoptError, InstanceError, OptionError

EXIT_OK, EXIT_FAIL, EXIT_BAD_INPUT = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad usage in one line with exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def _print_json(obj: Any) -> None:
    from .jsonio import dumps

    sys.stdout.write(dumps(obj))
    sys.stdout.flush()


def _params(pairs: Sequence[str] | None, flag: str) -> dict[str, Any]:
    from .generators import parse_params

    return parse_params(list(pairs or []), flag=flag)


def _check_options(a: argparse.Namespace) -> None:
    """Range-check the numeric options a command has, before any work (exit 2, one line)."""
    checks = {
        "seed": (lambda v: v >= 0, "must be >= 0"),
        "scenarios": (lambda v: v >= 1, "must be >= 1"),
        "time_limit": (lambda v: math.isfinite(v) and v > 0, "must be a number of seconds > 0"),
        "mip_gap": (lambda v: 0 <= v < 1, "must be in [0, 1)"),
        "threads": (lambda v: v >= 1, "must be >= 1"),
        "eval_reps": (lambda v: v >= 0, "must be >= 0"),
        "reps": (lambda v: v >= 1, "must be >= 1"),
        "replications": (lambda v: v >= 2, "must be >= 2"),
        "confidence": (lambda v: 0 < v < 1, "must be in (0, 1)"),
        "workers": (lambda v: v >= 1, "must be >= 1"),
        "products": (lambda v: v >= 1, "must be >= 1"),
        "customers": (lambda v: math.isfinite(v) and v > 0, "must be a finite number > 0"),
    }
    for key, (ok, rule) in checks.items():
        value = getattr(a, key, None)
        if value is not None and not ok(value):
            raise OptionError(f"--{key.replace('_', '-')} {rule}, got {value}")


@contextlib.contextmanager
def _solver_log_to_stderr(active: bool):  # type: ignore[no-untyped-def]
    """Send what is written to file descriptor 1 (HiGHS's log) to stderr while ``active``, so a
    ``--verbose`` log never mixes into the JSON on stdout."""
    if not active:
        yield
        return
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


# --------------------------------------------------------------------------- commands
def cmd_solve(a: argparse.Namespace) -> int:
    from .api import solve
    from .instance import load_instance
    from .jsonio import check_output

    if a.decomposition is not None and not a.mpi:
        raise OptionError("--decomposition needs --mpi")
    _check_options(a)
    check_output(a.output, (a.instance,))
    check_output(a.write_model, (a.instance,), "--write-model")
    if a.mpi:
        return _solve_mpi(a)
    inst = load_instance(a.instance)
    params = _params(a.param, "--param")
    for key in ("start", "formulation"):
        if getattr(a, key, None) is not None:
            params[key] = getattr(a, key)
    truth = _truth(a, inst)
    if truth is not None and a.method == "local-search":
        params["truth"] = a.truth  # search under the true model's customers
    committed = _committed(inst, a.committed)
    with _solver_log_to_stderr(a.verbose):
        sol = solve(
            inst,
            method=a.method,
            scenarios=a.scenarios,
            seed=a.seed,
            time_limit=a.time_limit,
            mip_gap=a.mip_gap,
            threads=a.threads,
            verbose=a.verbose,
            params=params,
            eval_reps=a.eval_reps,
            write_model=a.write_model,
            committed=committed,
        )
    return _report_solution(sol, a.output, _truth_block(sol, truth, a))


def _committed(inst: Any, path: str | None) -> Any:
    """The commitment of ``--committed FILE``: the file's ``stock`` units, others free."""
    if path is None:
        return None
    from .commitment import commitment_from_stock
    from .solution import load_solution

    return commitment_from_stock(inst, load_solution(path, inst).data["stock"], source=path)


def _truth(a: argparse.Namespace, inst: Any) -> Any:
    """The ``--truth`` model aligned to the instance (checked before any work), or None."""
    if getattr(a, "truth", None) is None:
        return None
    from .truth import load_choice_model

    return load_choice_model(a.truth, inst.ids)


def _truth_block(sol: Any, truth: Any, a: argparse.Namespace) -> dict[str, Any]:
    """``truth_evaluation``: the plan simulated under the true model, on the seed and number of
    replications of the solution's own evaluation (common random numbers across plans)."""
    if truth is None or sol.status in ("infeasible", "error") or not a.eval_reps:
        return {}
    from .truth import truth_evaluation

    ev = truth_evaluation(sol.instance, sol.stock, truth, reps=a.eval_reps, seed=a.seed + 1)
    print(f"under the truth ({a.truth}): {ev.mean:.2f} ± {ev.stderr:.2f}", file=sys.stderr)
    return {"truth_evaluation": {**ev.to_dict(), "model": str(a.truth)}}


def _report_solution(sol: Any, output: str | None, extra: dict[str, Any] | None = None) -> int:
    """Write the solution file (stdout without ``--output``) and the summary; the exit status.
    ``--output FILE.csv`` writes the planner's table instead (README, "A planner's view")."""
    from .jsonio import write_atomic, write_json_atomic

    d = sol.to_dict()
    d.update(extra or {})
    if output and output.lower().endswith(".csv"):
        text = sol.table().to_csv(index=False)
        write_atomic(output, lambda fh: fh.write(text.encode("utf-8")))
    elif output and output != "-":
        write_json_atomic(output, d)
    else:
        _print_json(sol.to_dict())
    print(sol.summary(), file=sys.stderr)
    if sol.status == "infeasible":
        print(
            f"infeasible: {sol.plan.message or 'no plan satisfies the constraints'}",
            file=sys.stderr,
        )
    return EXIT_FAIL if sol.status == "error" else EXIT_OK


def _solve_mpi(a: argparse.Namespace) -> int:
    from .mpi import solve_mpi
    from .solver import SolverOptions

    for key in ("start", "formulation", "write_model"):
        if getattr(a, key, None) is not None:
            raise OptionError(f"--{key.replace('_', '-')} is not available with --mpi")
    with _solver_log_to_stderr(a.verbose):
        sol = solve_mpi(
            a.instance,
            method=a.method,
            scenarios=a.scenarios,
            seed=a.seed,
            decomposition=a.decomposition or "ef",
            options=SolverOptions(
                time_limit=a.time_limit, mip_gap=a.mip_gap, threads=a.threads, verbose=a.verbose
            ),
            params=_params(a.param, "--param"),
            eval_reps=a.eval_reps,
        )
    if sol is None:  # not rank 0: rank 0 writes the file
        return EXIT_OK
    return _report_solution(sol, a.output)


def cmd_gap(a: argparse.Namespace) -> int:
    from .gap import gap_ci
    from .instance import load_instance
    from .solution import load_solution

    _check_options(a)
    inst = load_instance(a.instance)
    sol = load_solution(a.solution, inst)
    res = gap_ci(
        inst,
        sol.stock,
        replications=a.replications,
        scenarios=a.scenarios,
        seed=a.seed,
        model=a.model,
        confidence=a.confidence,
        time_limit=a.time_limit,
    )
    if res is not None:  # None on MPI ranks other than 0
        _print_json(res.to_dict())
        print(res.summary(), file=sys.stderr)
    return EXIT_OK


def cmd_bound(a: argparse.Namespace) -> int:
    from .instance import load_instance
    from .models.lp_bound import lp_bound

    _print_json(lp_bound(load_instance(a.instance), method=a.method).to_dict())
    return EXIT_OK


def cmd_evaluate(a: argparse.Namespace) -> int:
    from .instance import load_instance
    from .simulation import simulate
    from .solution import load_solution, violations

    _check_options(a)
    inst = load_instance(a.instance)
    sol = load_solution(a.solution, inst)
    for problem in violations(inst, sol.stock, sol.data):
        print(f"assortopt: warning: {a.solution}: {problem}", file=sys.stderr)
    truth = _truth(a, inst)
    if truth is not None:
        from .truth import truth_evaluation

        ev = truth_evaluation(inst, sol.stock, truth, reps=a.reps, seed=a.seed)
    else:
        ev = simulate(inst, sol.stock, reps=a.reps, seed=a.seed)
    out = ev.to_dict()
    out.update(
        {
            "sales": dict(zip(inst.ids, map(float, ev.sales), strict=True)),
            "fill_rate": float(ev.fill_rate),
            "substitution_share": float(ev.substitution_share),
        }
    )
    _print_json(out)
    return EXIT_OK


def cmd_report(a: argparse.Namespace) -> int:
    from .instance import load_instance
    from .report import write_report
    from .solution import load_solution

    inst = load_instance(a.instance)
    sol = load_solution(a.solution, inst)
    if a.reps < 1:
        raise OptionError(f"--reps must be >= 1, got {a.reps}")
    path = write_report(inst, sol.stock, a.output, reps=a.reps, seed=a.seed, solution=sol.data)
    print(path)
    return EXIT_OK


def cmd_validate(a: argparse.Namespace) -> int:
    from .instance import load_instance

    bad = 0
    for path in a.instances:
        try:
            inst = load_instance(path)
        except InstanceError as exc:
            print(str(exc), file=sys.stderr)
            bad += 1
        else:
            print(f"{path}: ok ({inst.n} products, {inst.transitions.nnz} transitions)")
    return EXIT_BAD_INPUT if bad else EXIT_OK


def cmd_generate(a: argparse.Namespace) -> int:
    from .generators import generate_file
    from .jsonio import check_output

    _check_options(a)
    check_output(a.output)
    customers: float = a.customers
    if float(customers).is_integer():
        customers = int(customers)
    inst = generate_file(
        a.family, a.products, customers, a.seed, a.output, **_params(a.set, "--set")
    )
    print(f"{a.output}: {inst.n} products, {inst.transitions.nnz} transitions", file=sys.stderr)
    return EXIT_OK


def cmd_bench(a: argparse.Namespace) -> int:
    from pathlib import Path

    from .bench import run_bench, write_report

    _check_options(a)
    if a.config == "report":
        if a.target is None:
            raise OptionError("bench report: give the results directory")
        try:
            print(write_report(a.target))
        except FileNotFoundError as exc:
            raise OptionError(f"{a.target}: {exc}") from None
        except (ValueError, KeyError, AttributeError, UnicodeDecodeError) as exc:  # foreign csv
            raise OptionError(
                f"{a.target}: not a results directory of assortopt bench "
                f"({type(exc).__name__}: {exc})"
            ) from None
        return EXIT_OK
    if a.target is not None:
        raise OptionError(f"bench: unexpected argument {a.target!r}")
    if not Path(a.config).is_file():
        raise OptionError(f"{a.config}: no such config file")
    try:
        Path(a.config).read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise OptionError(f"{a.config}: not UTF-8 text (byte {exc.start})") from None
    out = a.output or str(Path("bench-results") / Path(a.config).stem)
    if Path(out).exists() and not Path(out).is_dir():
        raise OptionError(f"--output {out}: is a file; the results go in a directory")
    if not Path(out).exists() and not Path(out).resolve().parent.is_dir():
        raise OptionError(f"--output {out}: directory {Path(out).resolve().parent} does not exist")
    if a.rerun_over_limit:
        from .bench.rerun import rerun_over_limit

        if a.mpi or a.resume or a.workers != 1:
            raise OptionError("--rerun-over-limit runs alone: no --mpi, --resume or --workers")
        for key, label, plan_s, lim in rerun_over_limit(a.config, out):
            print(f"rerun {key} {label}: plan_s {plan_s:.1f} s, L {lim:g} s", file=sys.stderr)
        print(Path(out) / "results.csv")
        return EXIT_OK
    if a.mpi:
        from .mpi import run_bench_mpi

        path = run_bench_mpi(a.config, out, resume=a.resume)
        if path is not None:
            print(path)
        return EXIT_OK
    print(run_bench(a.config, out, workers=a.workers, resume=a.resume))
    return EXIT_OK


def cmd_fit(a: argparse.Namespace) -> int:
    from .fit import fit_markov_chain, summary
    from .instance import save_instance
    from .jsonio import write_json_atomic

    _check_options(a)  # --time-limit, --seed, --customers before the data are read
    customers: float = a.customers
    if float(customers).is_integer():
        customers = int(customers)
    inst, report = fit_markov_chain(
        a.data,
        a.catalogue,
        customers,
        a.distribution,
        holdout=a.holdout,
        seed=a.seed,
        time_limit=a.time_limit,
        max_iter=a.max_iter,
        visits=a.visits,
        buy_share=a.buy_share,
        progress=None,
        visits_file=a.visits_file,
        support=int(a.support) if a.support.isdigit() else a.support,
    )
    save_instance(inst, a.output)
    if a.report:
        write_json_atomic(a.report, report)
    print(summary(report), file=sys.stderr)
    print(f"{a.output}: {inst.n} products, {inst.transitions.nnz} transitions", file=sys.stderr)
    return EXIT_OK


def cmd_approx(a: argparse.Namespace) -> int:
    from .catalogue import read_catalogue
    from .choice.approx import approximation_error
    from .fit.refine import to_markov_chain
    from .instance import instance_json_text, save_instance
    from .truth import load_choice_model

    cat = read_catalogue(a.catalogue)
    model = load_choice_model(a.model, cat.ids)
    customers: float = a.customers
    if a.distribution == "fixed" and float(customers).is_integer():
        customers = int(customers)
    inst = to_markov_chain(
        model,
        cat,
        customers,
        a.distribution,
        name=a.name or "",
        method=a.method,
        n_sets=a.refine_sets,
        seed=a.seed + 1,  # training sets of --method refined: never the error's sets
    )
    if a.error_sets > 0:
        err = approximation_error(model, inst, a.error_sets, a.seed)
        inst.metadata["approximation_error"] = err
        print(
            f"chain of {a.model}: {inst.n} products, {inst.transitions.nnz} transitions; "
            f"|P(j|S) error| on {err['n_sets']} random sets: max {err['max_abs']:.2e}, "
            f"mean {err['mean_abs']:.2e}",
            file=sys.stderr,
        )
    if a.output is None or str(a.output) == "-":
        sys.stdout.write(instance_json_text(inst))
        sys.stdout.flush()
    else:
        save_instance(inst, a.output)  # JSON or .npz by the extension
    return EXIT_OK


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "approx": cmd_approx,
    "solve": cmd_solve,
    "report": cmd_report,
    "bound": cmd_bound,
    "evaluate": cmd_evaluate,
    "validate": cmd_validate,
    "generate": cmd_generate,
    "bench": cmd_bench,
    "gap": cmd_gap,
    "fit": cmd_fit,
}


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="assortopt", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    s = sub.add_parser("solve", help="plan assortment and inventory; writes the solution JSON")
    s.add_argument("instance")
    s.add_argument("--method", "-m", default="heuristic")
    s.add_argument("--scenarios", "-k", type=int, default=100, help="sampled scenarios K")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--time-limit", type=float, default=None, help="seconds")
    s.add_argument("--mip-gap", type=float, default=1e-4, help="relative MIP gap")
    s.add_argument("--threads", type=int, default=None)
    s.add_argument("--output", "-o", default=None, help="solution file (stdout when omitted)")
    s.add_argument(
        "--eval-reps", type=int, default=10000, help="out-of-sample replications (0: skip)"
    )
    s.add_argument("--start", default=None, help="starting method (local-search, mip)")
    s.add_argument(
        "--formulation", default=None, help="MIP formulation (bnb, strong, bigm, portfolio)"
    )
    s.add_argument(
        "--param", action="append", metavar="KEY=VALUE", help="method option, repeatable"
    )
    s.add_argument("--write-model", default=None, metavar="FILE.mps|FILE.lp")
    s.add_argument(
        "--committed",
        default=None,
        metavar="SOLUTION_FILE",
        help="units already bought: the file's stock is kept exactly, other products are free",
    )
    s.add_argument("--verbose", "-v", action="store_true", help="show the solver log")
    s.add_argument(
        "--truth",
        default=None,
        metavar="MODEL",
        help="true choice model file: add truth_evaluation (local-search: search under it)",
    )
    s.add_argument(
        "--mpi",
        action="store_true",
        help="solve with mpi-sppy across MPI ranks (saa-lp-all, spill-mip, mip; under mpiexec)",
    )
    s.add_argument(
        "--decomposition",
        choices=("ef", "ph", "lshaped"),
        default=None,
        help="with --mpi: extensive form (default), progressive hedging or L-shaped",
    )

    r = sub.add_parser("report", help="a plan as HTML with figures (DIR/report.html)")
    r.add_argument("solution")
    r.add_argument("instance")
    r.add_argument("--output", "-o", required=True, metavar="DIR")
    r.add_argument("--reps", type=int, default=2000, help="simulated seasons")
    r.add_argument("--seed", type=int, default=1)

    b = sub.add_parser("bound", help="the LP upper bound as JSON")
    b.add_argument("instance")
    b.add_argument(
        "--method",
        choices=("auto", "stopping", "highs"),
        default="auto",
        help="optimal stopping (auto: with HiGHS as the fallback) or the HiGHS LP",
    )

    e = sub.add_parser("evaluate", help="simulate a solution file")
    e.add_argument("instance")
    e.add_argument("solution")
    e.add_argument("--reps", type=int, default=10000)
    e.add_argument("--seed", type=int, default=1)
    e.add_argument("--truth", default=None, metavar="MODEL", help="simulate under this model")

    ap = sub.add_parser("approx", help="the Markov chain of a choice model (instance file)")
    ap.add_argument("model", help="choice model file (assortopt-choice/1 or python_choice_models)")
    ap.add_argument("--catalogue", required=True, help="CSV: id, price, cost [, salvage, ...]")
    ap.add_argument("--customers", "-t", type=float, required=True, help="mean customers T")
    ap.add_argument("--distribution", choices=("fixed", "poisson"), default="fixed")
    ap.add_argument("--output", "-o", default=None, help="instance file (stdout when omitted)")
    ap.add_argument("--name", default=None)
    ap.add_argument(
        "--error-sets", type=int, default=50, help="random offer sets for the error (0: skip)"
    )
    ap.add_argument("--seed", type=int, default=0, help="seed of the random offer sets")
    ap.add_argument(
        "--method",
        choices=("bgg", "refined"),
        default="bgg",
        help="bgg: Blanchet-Gallego-Goyal chain; refined: EM fit to P(j|S) on random sets",
    )
    ap.add_argument(
        "--refine-sets", type=int, default=200, help="random training sets of --method refined"
    )

    v = sub.add_parser("validate", help="check instance files")
    v.add_argument("instances", nargs="+")

    g = sub.add_parser("generate", help="write a synthetic instance file")
    g.add_argument("family", help="mnl, dense, sparse, cluster, vertical or online")
    g.add_argument("--products", "-n", type=int, required=True)
    g.add_argument("--customers", "-t", type=float, required=True, help="mean customers T")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--output", "-o", required=True)
    g.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="generator parameter, repeatable (e.g. alpha=1.2, margin=low)",
    )

    gp = sub.add_parser(
        "gap", help="confidence interval on a plan's optimality gap (Mak-Morton-Wood)"
    )
    gp.add_argument("instance")
    gp.add_argument("solution")
    gp.add_argument("--replications", "-r", type=int, default=10)
    gp.add_argument("--scenarios", "-k", type=int, default=50, help="scenarios per replication")
    gp.add_argument("--seed", type=int, default=0)
    gp.add_argument(
        "--model",
        choices=("spill-mip", "saa-lp-all", "mip"),
        default="spill-mip",
        help="the SAA program whose gap is estimated",
    )
    gp.add_argument("--confidence", type=float, default=0.95)
    gp.add_argument("--time-limit", type=float, default=None, help="seconds for all replications")

    bn = sub.add_parser("bench", help="run a benchmark config, or `bench report DIR`")
    bn.add_argument("config", help="CONFIG.toml, or the word `report`")
    bn.add_argument("target", nargs="?", default=None, help="results directory (for `report`)")
    bn.add_argument(
        "--output",
        "-o",
        default=None,
        help="results directory (default bench-results/<config name>)",
    )
    bn.add_argument("--workers", "-j", type=int, default=1)
    bn.add_argument("--resume", action="store_true", help="skip finished cells")
    bn.add_argument("--mpi", action="store_true", help="spread cells over MPI ranks")
    bn.add_argument(
        "--rerun-over-limit",
        action="store_true",
        help="plan again the rows of --output whose plan_s broke L + max(0.1 L, 2 s)",
    )

    ft = sub.add_parser("fit", help="fit the Markov chain from sales records; writes an instance")
    ft.add_argument("data", help="sessions CSV, periods CSV or python_choice_models JSON")
    ft.add_argument("--catalogue", required=True, help="products CSV: id, price, cost, ...")
    ft.add_argument("--customers", "-t", type=float, required=True, help="season customers T")
    ft.add_argument("--distribution", choices=("fixed", "poisson"), default="fixed")
    ft.add_argument("--output", "-o", required=True, help="instance file to write")
    ft.add_argument("--report", default=None, help="fit report JSON to write")
    ft.add_argument("--holdout", type=float, default=None, help="share of visits held out")
    ft.add_argument("--seed", type=int, default=0)
    ft.add_argument("--time-limit", type=float, default=None, help="seconds")
    ft.add_argument("--max-iter", type=int, default=2000, help="EM steps")
    lam0 = ft.add_mutually_exclusive_group()
    lam0.add_argument("--visits", type=float, default=None, help="total visits (sales-only data)")
    lam0.add_argument(
        "--buy-share", type=float, default=None, help="share of visits that buy (sales-only data)"
    )
    ft.add_argument(
        "--visits-file",
        default=None,
        help="periods data: visits per period in a CSV (period, visits)",
    )
    ft.add_argument(
        "--support",
        default="auto",
        help="support of the substitution matrix: auto, dense, observed, none, top-k as an "
        "integer, or a CSV of allowed transitions (from, to)",
    )
    return p


def _interrupt(signum: int, frame: Any) -> None:  # the handler of SIGINT and SIGTERM
    from .solver.highs import request_interrupt

    if not request_interrupt():  # a HiGHS run stops first, then raises KeyboardInterrupt
        raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    a = parser.parse_args(argv)
    # SIGTERM ends a run like Ctrl-C: files are written atomically, so the output is absent or
    # complete; one line, exit 130
    from .solver.highs import watch_interrupts

    saved = {}
    with contextlib.suppress(ValueError):  # not in the main thread
        for sig in (signal.SIGINT, signal.SIGTERM):
            saved[sig] = signal.signal(sig, _interrupt)
    watch_interrupts(bool(saved))
    try:
        return _run_command(a)
    finally:
        watch_interrupts(False)
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def _run_command(a: argparse.Namespace) -> int:
    try:
        return COMMANDS[a.command](a)
    except (InstanceError, OptionError) as exc:
        print(f"assortopt: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except AssortoptError as exc:
        print(f"assortopt: {exc}", file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:
        print("assortopt: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAIL
    except Exception as exc:  # noqa: BLE001  (one line, no traceback, unless asked)
        if os.environ.get("ASSORTOPT_DEBUG"):
            raise
        print(
            f"assortopt: internal error: {type(exc).__name__}: {exc} "
            "(set ASSORTOPT_DEBUG=1 for a traceback)",
            file=sys.stderr,
        )
        return EXIT_FAIL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
