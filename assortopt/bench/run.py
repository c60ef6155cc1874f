"""Run a benchmark sweep: every cell of a configuration, rows appended as cells finish.

Output directory layout (``benchmarks/README.md``):

``results.csv``
    One row per (cell, method), columns `COLUMNS`. A cell's rows are appended in one ``write``
    followed by ``fsync``, so an interrupted sweep keeps every finished cell and at worst a torn
    last line, which ``resume`` cuts off.
``plans.jsonl``
    Per cell, one ``{"cell", "demand"}`` record (mean first-choice demand T·λ by demand rank) and
    one ``{"cell", "method", "rank", "units"}`` record per plan (demand ranks of the stocked
    products and their units), for the long-tail figure.
``config.toml``, ``meta.json``
    The configuration as read and its digest: ``resume`` refuses a directory written for
    another configuration.

Protocol of a cell: generate the instance from the cell's seed; compute the LP bound; run each
method with that seed as planning seed (HiGHS one thread); evaluate every plan on the same
``eval_reps`` fresh seasons drawn from ``eval_seed + seed`` (common random numbers), so the
difference of two plans' profits is a paired sample: gaps to the cell's best plan and to the
reference method carry paired standard errors. For the ``online`` family every plan is also
evaluated under the ground-truth online model (``truth_*`` columns), and likewise for the
true-model families of `assortopt.truth_families` (latent-class, nested-logit, ranked-lists),
whose instance is the true model's Blanchet–Gallego–Goyal chain.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import OptionError
from .config import BenchConfig, Cell, MethodSpec, load_config

__all__ = ["COLUMNS", "TIMING_COLUMNS", "run_bench", "run_cell", "read_results"]

RESULTS_CSV = "results.csv"
PLANS_JSONL = "plans.jsonl"
META_JSON = "meta.json"
CONFIG_COPY = "config.toml"

COLUMNS: tuple[str, ...] = (
    # the instance
    "cell",
    "family",
    "n",
    "customers",
    "tail",
    "alpha",
    "margin",
    "seed",
    "instance",
    "lp_bound",
    "lp_products",
    # the method
    "method",
    "method_name",
    "options",
    "status",
    "message",
    # out of sample, common random numbers
    "eval_reps",
    "profit_mean",
    "profit_se",
    "pct_lp",
    "pct_lp_se",
    "regret",
    "best_method",
    "gap_best",
    "gap_best_se",
    "gap_best_pct",
    "reference",
    "diff_ref",
    "diff_ref_se",
    # the method's own view
    "objective",
    "mip_bound",
    "mip_gap",
    # the plan
    "products",
    "units",
    "tail_products",
    "tail_units",
    "tail_sales_share",
    "fill_rate",
    "substitution_share",
    # under the ground-truth model (online family)
    "truth_mean",
    "truth_se",
    "truth_gap_best",
    "truth_gap_best_se",
    # wall times (seconds)
    "setup_s",
    "plan_s",
    "eval_s",
)
TIMING_COLUMNS: tuple[str, ...] = ("setup_s", "plan_s", "eval_s")
_MAX_MESSAGE = 400
_ATTEMPTS = 3  # tries per cell when a worker process dies under it

# Called in the parent after each cell's rows are on disk, with the number of cells written in
# this run. A test hook (e.g. to hold a sweep still while a test kills it); None in normal use.
AFTER_CELL: Callable[[int], None] | None = None


# ============================================================================ one cell
def _one_line(msg: str) -> str:
    msg = " | ".join(part.strip() for part in str(msg).splitlines() if part.strip())
    return msg if len(msg) <= _MAX_MESSAGE else msg[: _MAX_MESSAGE - 3] + "..."


def _error_text(e: BaseException) -> str:
    return _one_line(f"{type(e).__name__}: {e}")


def _num(x: Any) -> float | None:
    if x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _make_instance(cell: Cell):
    """The cell's instance and, for the online family, its ground-truth sampler."""
    from ..generators import generate

    kw = cell.generator_kwargs()
    if cell.family == "online":
        from ..choice.online import generate_online

        return generate_online(cell.n, cell.customers, cell.seed, **kw)
    from ..truth_families import TRUTH_FAMILIES, generate_truth

    if cell.family in TRUTH_FAMILIES:  # plan on the BGG chain, judge under the true model
        return generate_truth(cell.family, cell.n, cell.customers, cell.seed, **kw)
    return generate(cell.family, cell.n, cell.customers, cell.seed, **kw), None


def _base_row(cell: Cell, m: MethodSpec) -> dict[str, Any]:
    return {
        "cell": cell.key,
        "family": cell.family,
        "n": cell.n,
        "customers": cell.customers,
        "tail": cell.tail,
        "alpha": cell.alpha,
        "margin": cell.margin,
        "seed": cell.seed,
        "method": m.label,
        "method_name": m.name,
        "options": json.dumps(m.options(), sort_keys=True, separators=(",", ":")),
        "eval_reps": cell.eval_reps,
        "reference": cell.reference,
    }


def _plan(inst, m: MethodSpec, seed: int):
    from ..methods.base import PlanRequest, get_method
    from ..solver import SolverOptions

    opts = SolverOptions(time_limit=m.time_limit, mip_gap=m.mip_gap, threads=1)
    req = PlanRequest(scenarios=m.scenarios, seed=seed, options=opts, params=dict(m.params))
    plan = get_method(m.name)(inst, req)
    stock = np.asarray(plan.stock)
    if stock.shape != (inst.n,) or not np.issubdtype(stock.dtype, np.integer) or (stock < 0).any():
        raise ValueError(
            f"method returned an invalid stock array (shape {stock.shape}, dtype {stock.dtype})"
        )
    return plan, stock.astype(np.int64)


def _paired(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Mean and standard error of the per-season difference a − b."""
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    se = float(d.std(ddof=1) / math.sqrt(d.size)) if d.size > 1 else float("nan")
    return float(d.mean()), se


def _evaluate(inst, stocks: dict[str, np.ndarray], reps: int, seed: int, sampler=None):
    """Evaluate every plan on the same seasons (simulate's seed fixes the customers)."""
    from ..simulation import simulate

    out: dict[str, Any] = {}
    errors: dict[str, str] = {}
    secs: dict[str, float] = {}
    for label, stock in stocks.items():
        t = time.perf_counter()
        try:
            out[label] = simulate(inst, stock, reps=reps, seed=seed, sampler=sampler)
        except Exception as e:  # noqa: BLE001  (recorded in the row, the sweep goes on)
            errors[label] = "evaluation failed: " + _error_text(e)
        secs[label] = time.perf_counter() - t
    return out, errors, secs


def _best_and_gaps(evals: dict[str, Any], order: list[str]):
    """The best plan (highest mean; first in method order on ties) and paired gaps to it."""
    if not evals:
        return None, {}
    best = max((lab for lab in order if lab in evals), key=lambda lab: evals[lab].mean)
    gaps = {lab: _paired(evals[best].profits, ev.profits) for lab, ev in evals.items()}
    return best, gaps


def run_cell(cell: Cell) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Run every method of ``cell`` and evaluate the plans: (CSV rows, plan records).

    Never raises for a failing method or instance: the error goes into the rows' ``status``
    (``error``) and ``message`` columns.
    """
    from ..solver import ERROR, INFEASIBLE

    labels = [m.label for m in cell.methods]
    rows = {m.label: _base_row(cell, m) for m in cell.methods}
    t0 = time.perf_counter()
    try:
        from ..models.lp_bound import lp_bound

        inst, truth = _make_instance(cell)
        bound = lp_bound(inst)
        lp = float(bound.value)
    except Exception as e:  # noqa: BLE001
        msg = "instance/bound failed: " + _error_text(e)
        for r in rows.values():
            r.update(status="error", message=msg, setup_s=time.perf_counter() - t0)
        return [rows[lab] for lab in labels], []
    setup_s = time.perf_counter() - t0
    mean_demand = float(inst.customers_mean) * np.asarray(inst.arrival, dtype=np.float64)
    order = np.lexsort((np.arange(inst.n), -mean_demand))
    rank = np.empty(inst.n, dtype=np.int64)
    rank[order] = np.arange(inst.n)
    tail = mean_demand < 1.0
    offered = getattr(bound, "offered", None)
    for r in rows.values():
        r.update(
            instance=inst.name,
            lp_bound=lp,
            setup_s=setup_s,
            lp_products=None if offered is None else int(np.count_nonzero(offered)),
        )

    stocks: dict[str, np.ndarray] = {}
    records: list[dict[str, Any]] = [
        {
            "cell": cell.key,
            "demand": [float(f"{x:.4g}") for x in mean_demand[order]],
        }
    ]
    for m in cell.methods:
        r = rows[m.label]
        t = time.perf_counter()
        try:
            plan, stock = _plan(inst, m, cell.seed)
        except Exception as e:  # noqa: BLE001
            r.update(status="error", message=_error_text(e), plan_s=time.perf_counter() - t)
            continue
        r["plan_s"] = time.perf_counter() - t
        r.update(
            status=plan.status,
            message=_one_line(plan.message or ""),
            objective=_num(plan.objective),
            mip_bound=_num(plan.bound),
            mip_gap=_num(plan.gap),
            products=int(np.count_nonzero(stock)),
            units=int(stock.sum()),
            tail_products=int(np.count_nonzero(stock[tail])),
            tail_units=int(stock[tail].sum()),
        )
        if plan.status in (ERROR, INFEASIBLE):
            continue
        stocks[m.label] = stock
        pos = np.flatnonzero(stock)
        idx = np.argsort(rank[pos], kind="stable")
        records.append(
            {
                "cell": cell.key,
                "method": m.label,
                "rank": rank[pos][idx].tolist(),
                "units": stock[pos][idx].tolist(),
            }
        )

    evals, errors, secs = _evaluate(inst, stocks, cell.eval_reps, cell.eval_seed)
    best, gaps = _best_and_gaps(evals, labels)
    ref = cell.reference if cell.reference in evals else None
    for lab, ev in evals.items():
        r = rows[lab]
        mean, se = float(ev.mean), float(ev.stderr)
        sales = np.asarray(ev.sales, dtype=np.float64)
        r.update(
            profit_mean=mean,
            profit_se=se,
            regret=lp - mean,
            best_method=best,
            pct_lp=100.0 * mean / lp if lp > 0 else None,
            pct_lp_se=100.0 * se / lp if lp > 0 else None,
            gap_best=gaps[lab][0],
            gap_best_se=gaps[lab][1],
            gap_best_pct=100.0 * gaps[lab][0] / lp if lp > 0 else None,
            fill_rate=_num(getattr(ev, "fill_rate", None)),
            substitution_share=_num(getattr(ev, "substitution_share", None)),
            tail_sales_share=float(sales[tail].sum() / sales.sum()) if sales.sum() > 0 else 0.0,
        )
        if ref is not None:
            r["diff_ref"], r["diff_ref_se"] = _paired(ev.profits, evals[ref].profits)
    for lab, msg in errors.items():
        rows[lab].update(status="error", message=_one_line(f"{rows[lab]['message']} {msg}"))
    for lab, s in secs.items():
        rows[lab]["eval_s"] = s
    if truth is not None and evals:
        tev, terr, _ = _evaluate(
            inst, {k: stocks[k] for k in evals}, cell.eval_reps, cell.eval_seed, sampler=truth
        )
        tbest, tgaps = _best_and_gaps(tev, labels)
        for lab, ev in tev.items():
            rows[lab].update(
                truth_mean=float(ev.mean),
                truth_se=float(ev.stderr),
                truth_gap_best=tgaps[lab][0],
                truth_gap_best_se=tgaps[lab][1],
            )
        for lab, msg in terr.items():
            rows[lab]["message"] = _one_line(f"{rows[lab]['message']} truth {msg}")
    return [rows[lab] for lab in labels], records


def _error_cell(cell: Cell, msg: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rows = []
    for m in cell.methods:
        r = _base_row(cell, m)
        r.update(status="error", message=_one_line(msg))
        rows.append(r)
    return rows, []


def _safe_run_cell(cell: Cell) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    try:
        return run_cell(cell)
    except Exception as e:  # noqa: BLE001  (a bug in the harness itself: still one row each)
        tb = traceback.extract_tb(e.__traceback__)[-1]
        return _error_cell(cell, f"{_error_text(e)} (at {Path(tb.filename).name}:{tb.lineno})")


# ============================================================================ files
def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return "" if not math.isfinite(v) else repr(v)
    if isinstance(v, np.generic):
        return _fmt(v.item())
    return str(v)


def _csv_text(rows: Iterable[dict[str, Any]], header: bool = False) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    if header:
        w.writerow(COLUMNS)
    for r in rows:
        w.writerow([_fmt(r.get(c)) for c in COLUMNS])
    return buf.getvalue()


def _append(path: Path, text: str) -> None:
    """Append ``text`` with one write call (looping only on a short write), then fsync."""
    data = text.encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def _replace(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (temporary file, fsync, rename)."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _complete_lines(path: Path) -> list[str]:
    """The file's complete lines (a torn last line without its newline is dropped)."""
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    return lines[:-1]  # the part after the last newline is empty or torn


def read_results(output_dir: str | os.PathLike[str]):
    """The sweep's rows as a pandas DataFrame (columns `COLUMNS`)."""
    import pandas as pd

    return pd.read_csv(Path(output_dir) / RESULTS_CSV, dtype={"message": str, "options": str})


def _write_cell(out: Path, rows: list[dict[str, Any]], records: list[dict[str, Any]]) -> None:
    if records:
        _append(
            out / PLANS_JSONL, "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)
        )
    _append(out / RESULTS_CSV, _csv_text(rows))


def _recover(out: Path, cells: dict[str, Cell]) -> set[str]:
    """Finished cells of an interrupted sweep; drop torn lines and rows of unfinished cells."""
    csv_path = out / RESULTS_CSV
    lines = _complete_lines(csv_path)
    header = ",".join(COLUMNS)
    if not lines or lines[0] != header:
        raise OptionError(
            f"{csv_path}: not a results file of this assortopt version "
            "(header differs); use another output directory"
        )
    rows_by_cell: dict[str, list[str]] = {}
    for line in lines[1:]:
        if not line:
            continue
        key = next(csv.reader([line]))[0]
        rows_by_cell.setdefault(key, []).append(line)
    done = {k for k, rs in rows_by_cell.items() if k in cells and len(rs) == len(cells[k].methods)}
    keep = [line for k in rows_by_cell if k in done for line in rows_by_cell[k]]
    text = "\n".join([header, *keep]) + "\n"
    if text != csv_path.read_text(encoding="utf-8"):
        _replace(csv_path, text)
    plans = out / PLANS_JSONL
    kept, seen = [], set()
    for line in _complete_lines(plans):
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        ident = (rec.get("cell"), rec.get("method"))
        if rec.get("cell") in done and ident not in seen:
            seen.add(ident)
            kept.append(line)
    if plans.exists():
        _replace(plans, "".join(line + "\n" for line in kept))
    return done


def _canonical_order(out: Path, cells: list[Cell]) -> None:
    """Rewrite results.csv and plans.jsonl in config order (cells, then methods)."""
    pos = {c.key: (c.index, {m.label: j for j, m in enumerate(c.methods)}) for c in cells}

    def key(cell_key: str, method: str | None) -> tuple:
        i, mj = pos.get(cell_key, (len(pos), {}))
        return (i, cell_key, -1 if method is None else mj.get(method, len(mj)), method or "")

    csv_path = out / RESULTS_CSV
    lines = _complete_lines(csv_path)
    body = [ln for ln in lines[1:] if ln]
    parsed = [(next(csv.reader([ln])), ln) for ln in body]
    ci, mi = COLUMNS.index("cell"), COLUMNS.index("method")
    parsed.sort(key=lambda p: key(p[0][ci], p[0][mi]))
    _replace(csv_path, "\n".join([lines[0], *(ln for _, ln in parsed)]) + "\n")
    plans = out / PLANS_JSONL
    if plans.exists():
        recs = [(json.loads(ln), ln) for ln in _complete_lines(plans) if ln]
        recs.sort(key=lambda p: key(p[0]["cell"], p[0].get("method")))
        _replace(plans, "".join(ln + "\n" for _, ln in recs))


def _prepare(out: Path, config: BenchConfig, cells: list[Cell], resume: bool) -> set[str]:
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / RESULTS_CSV
    meta_path = out / META_JSON
    if csv_path.exists():
        if not resume:
            raise OptionError(
                f"{csv_path} exists: resume it (--resume) or choose another output directory"
            )
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        if meta.get("digest") != config.digest:
            raise OptionError(
                f"{out}: holds results of another configuration "
                f"({meta.get('config', '?')}); use another output directory"
            )
        return _recover(out, {c.key: c for c in cells})
    meta = {
        "config": config.source,
        "name": config.name,
        "digest": config.digest,
        "cells": len(cells),
        "assortopt": _version(),
    }
    _replace(meta_path, json.dumps(meta, indent=2) + "\n")
    if config.text:
        _replace(out / CONFIG_COPY, config.text)
    (out / PLANS_JSONL).unlink(missing_ok=True)
    _replace(csv_path, _csv_text([], header=True))
    return set()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("assortopt")
    except PackageNotFoundError:
        return "unknown"


# ============================================================================ the sweep
def _init_worker() -> None:
    """One thread per worker for every library that would spawn more."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")


def run_bench(
    config: BenchConfig | str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    workers: int = 1,
    resume: bool = False,
    progress: bool = True,
) -> Path:
    """Run every cell of ``config``, appending rows to ``OUTPUT_DIR/results.csv``.

    Parameters
    ----------
    config
        A `BenchConfig` or the path of a TOML configuration.
    output_dir
        Created if needed. Holds results.csv, plans.jsonl, config.toml and meta.json.
    workers
        Worker processes (1: run in this process). Rows do not depend on it.
    resume
        Continue a sweep in ``output_dir``: finished cells are skipped, a torn last line and
        the rows of an unfinished cell are dropped. Without it an existing results.csv is an
        error (nothing is overwritten).
    progress
        Show a tqdm progress bar on stderr.

    Returns
    -------
    Path
        The results CSV, in configuration order once the sweep completes.

    Raises
    ------
    OptionError
        Bad configuration, ``workers < 1``, an existing results file without ``resume``, or a
        directory written for another configuration.
    """
    from tqdm.auto import tqdm

    if not isinstance(config, BenchConfig):
        config = load_config(config)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise OptionError(f"workers must be an integer >= 1, got {workers!r}")
    out = Path(output_dir)
    cells = config.cells()
    done = _prepare(out, config, cells, resume)
    todo = [c for c in cells if c.key not in done]
    bar = tqdm(
        total=len(cells),
        initial=len(cells) - len(todo),
        disable=not progress,
        desc=config.name,
        unit="cell",
        dynamic_ncols=True,
    )
    written = 0

    def finish(rows: list[dict[str, Any]], records: list[dict[str, Any]]) -> None:
        nonlocal written
        _write_cell(out, rows, records)
        written += 1
        bar.update(1)
        if AFTER_CELL is not None:
            AFTER_CELL(written)

    try:
        if workers == 1:
            for cell in todo:
                finish(*_safe_run_cell(cell))
        else:
            _run_pool(todo, workers, finish)
    finally:
        bar.close()
    _canonical_order(out, cells)
    return out / RESULTS_CSV


def _run_pool(todo: list[Cell], workers: int, finish: Callable[..., None]) -> None:
    """Cells in worker processes; a cell whose worker died is retried, then recorded."""
    import multiprocessing as mp

    ctx = mp.get_context("forkserver")
    attempts = {c.key: 0 for c in todo}
    pending = list(todo)
    while pending:
        retry: list[Cell] = []
        ex = ProcessPoolExecutor(
            max_workers=min(workers, len(pending)), mp_context=ctx, initializer=_init_worker
        )
        try:
            futures = {ex.submit(_safe_run_cell, c): c for c in pending}
            for fut in as_completed(futures):
                cell = futures[fut]
                try:
                    rows, records = fut.result()
                except BrokenProcessPool:
                    attempts[cell.key] += 1
                    if attempts[cell.key] < _ATTEMPTS:
                        retry.append(cell)
                        continue
                    rows, records = _error_cell(
                        cell, "the worker process died (out of memory or killed?)"
                    )
                except Exception as e:  # noqa: BLE001
                    rows, records = _error_cell(cell, _error_text(e))
                finish(rows, records)
        except BaseException:
            ex.shutdown(wait=False, cancel_futures=True)
            raise
        ex.shutdown(wait=True)
        pending = sorted(retry, key=lambda c: c.index)
