"""One benchmark cell: generate its instance, plan with every method, evaluate the plans.

Protocol of a cell (``benchmarks/README.md``): generate the instance from the cell's seed; compute
the LP bound; run each method with that seed as planning seed (HiGHS one thread); evaluate every
plan on the same ``eval_reps`` fresh seasons drawn from ``eval_seed + seed`` (common random
numbers), so the difference of two plans' profits is a paired sample
(`assortopt.simulation.paired_difference`): gaps to the cell's best plan and to the reference
method carry paired standard errors. For the ``online`` family every plan is also evaluated
under the ground-truth online model (``truth_*`` columns).

A cell's result is ``(rows, records)``: one row per method (columns `COLUMNS`) and the plan
records of ``plans.jsonl`` (`assortopt.bench.store`). A cell resumed with some of its rows on
disk (``Cell.kept``) plans only the other methods; every plan is evaluated again, so the columns
that compare plans (``best_method``, ``gap_best``, ``diff_ref``, ``truth_*`` …) are recomputed
over the whole cell.
"""

from __future__ import annotations

import json
import math
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from .config import Cell, MethodSpec

__all__ = [
    "COLUMNS",
    "PLAN_COLUMNS",
    "TIMING_COLUMNS",
    "CellResult",
    "error_cell",
    "error_text",
    "run_cell",
    "run_cell_safe",
]

#: One cell's output: its CSV rows (one per method) and its plans.jsonl records.
CellResult = tuple[list[dict[str, Any]], list[dict[str, Any]]]

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
    "vendors",
    "vendor_by",
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
#: The columns a method's planning fills; a resumed cell keeps them for the methods on disk.
PLAN_COLUMNS: tuple[str, ...] = (
    "status", "message", "objective", "mip_bound", "mip_gap", "products", "units",
    "tail_products", "tail_units", "plan_s",
)  # fmt: skip
_MAX_MESSAGE = 400


def _one_line(msg: str) -> str:
    msg = " | ".join(part.strip() for part in str(msg).splitlines() if part.strip())
    return msg if len(msg) <= _MAX_MESSAGE else msg[: _MAX_MESSAGE - 3] + "..."


def error_text(e: BaseException) -> str:
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
    """The cell's instance and, for the online and fitted families, its ground-truth sampler."""
    from ..generators import generate

    kw = cell.generator_kwargs()
    if cell.family == "online":
        from ..generators import generate_online

        return generate_online(cell.n, cell.customers, cell.seed, **kw)
    if cell.family == "fitted":  # fitted from sampled sales; evaluated under the truth
        from ..fit.synthetic import fitted_family

        return fitted_family(cell.n, cell.customers, cell.seed, **kw)
    from ..truth_families import TRUTH_FAMILIES, generate_truth

    if cell.family in TRUTH_FAMILIES:  # plan on the BGG chain, judge under the true model
        return generate_truth(cell.family, cell.n, cell.customers, cell.seed, **kw)
    return generate(cell.family, cell.n, cell.customers, cell.seed, **kw), None


def _with_vendors(cell: Cell, inst):
    """The cell's instance with its products assigned to ``cell.vendors`` vendors (by the
    cell's rule, seeded by the cell's seed); the instance itself when the cell has none."""
    if cell.vendors is None:
        return inst
    from ..methods.waves import assign_vendors

    cat = inst.metadata.get("category")
    if cell.vendor_by == "category" and inst.category is None and cat is not None:
        inst = inst.replace(category=tuple(str(c) for c in cat))  # the generator's labels
    return assign_vendors(inst, cell.vendors, by=cell.vendor_by or "random", seed=cell.seed)


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
        "vendors": cell.vendors,
        "vendor_by": cell.vendor_by,
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
            errors[label] = "evaluation failed: " + error_text(e)
        secs[label] = time.perf_counter() - t
    return out, errors, secs


def _best_and_gaps(evals: dict[str, Any], order: list[str]):
    """The best plan (highest mean; first in method order on ties) and paired gaps to it."""
    from ..simulation import paired_difference

    if not evals:
        return None, {}
    best = max((lab for lab in order if lab in evals), key=lambda lab: evals[lab].mean)
    gaps = {lab: paired_difference(evals[best], ev) for lab, ev in evals.items()}
    return best, gaps


def run_cell(cell: Cell) -> CellResult:
    """Run every method of ``cell`` and evaluate the plans: (CSV rows, plan records).

    ``cell.kept`` holds (an earlier row of this cell, its plans.jsonl record or None for a row
    without a plan) per method planned before: those methods are not planned again; their
    `PLAN_COLUMNS` come from the row, their stock from the record's demand ranks and units, and
    it is evaluated with the others on the same seasons, so the cell-level columns (best plan,
    gaps, difference to the reference) cover every plan of the cell.

    Never raises for a failing method or instance: the error goes into the rows' ``status``
    (``error``) and ``message`` columns.
    """
    from ..simulation import paired_difference
    from ..solver import ERROR, INFEASIBLE

    labels = [m.label for m in cell.methods]
    rows = {m.label: _base_row(cell, m) for m in cell.methods}
    t0 = time.perf_counter()
    try:
        from ..models.lp_bound import lp_bound

        inst, truth = _make_instance(cell)
        inst = _with_vendors(cell, inst)
        bound = lp_bound(inst)
        lp = float(bound.value)
    except Exception as e:  # noqa: BLE001
        msg = "instance/bound failed: " + error_text(e)
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
    kept = {old["method"]: (old, rec) for old, rec in cell.kept}
    for m in cell.methods:
        r = rows[m.label]
        if m.label in kept:  # planned in an earlier run: its plan columns and plan are kept
            old, rec = kept[m.label]
            r.update({c: old.get(c) for c in PLAN_COLUMNS})
            if rec is None or r["status"] in (ERROR, INFEASIBLE):
                continue
            stock = np.zeros(inst.n, dtype=np.int64)
            stock[order[np.asarray(rec["rank"], dtype=np.int64)]] = rec["units"]
        else:
            t = time.perf_counter()
            try:
                plan, stock = _plan(inst, m, cell.seed)
            except Exception as e:  # noqa: BLE001
                r.update(status="error", message=error_text(e), plan_s=time.perf_counter() - t)
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
            r["diff_ref"], r["diff_ref_se"] = paired_difference(ev, evals[ref])
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


def error_cell(cell: Cell, msg: str) -> CellResult:
    """Every method of ``cell`` as an ``error`` row with message ``msg`` (no plan records)."""
    rows = []
    for m in cell.methods:
        r = _base_row(cell, m)
        r.update(status="error", message=_one_line(msg))
        rows.append(r)
    return rows, []


def run_cell_safe(cell: Cell) -> CellResult:
    """`run_cell`, with a failure of the harness itself also recorded as one error row each."""
    try:
        return run_cell(cell)
    except Exception as e:  # noqa: BLE001  (a bug in the harness itself: still one row each)
        tb = traceback.extract_tb(e.__traceback__)[-1]
        return error_cell(cell, f"{error_text(e)} (at {Path(tb.filename).name}:{tb.lineno})")
