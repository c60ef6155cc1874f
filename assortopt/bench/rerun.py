"""Rerun the rows of a finished sweep whose planning time broke the time-limit rule.

The rule (README.md, "Time limits"): under a time limit L a method's planning wall time is at
most L + max(0.1·L, 2 s) (`allowance`). A results directory written by older code can hold rows
over it. `rerun_over_limit` plans again only those (cell, method) rows with the current code;
the other plans of each touched cell are rebuilt from ``plans.jsonl`` and evaluated again with
the new ones on the cell's common seasons (`assortopt.bench.cell.run_cell` with ``Cell.kept``), so
the cell-level columns (``best_method``, ``gap_best*``, ``diff_ref*``, ``truth_gap_best*``) are
recomputed over every plan of the cell. Untouched cells keep their lines as they are.

CLI: ``assortopt bench CONFIG --output DIR --rerun-over-limit`` (``benchmarks/README.md``).
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..exceptions import OptionError
from .cell import run_cell_safe
from .config import BenchConfig, Cell, load_config
from .store import META_JSON, PLANS_JSONL, RESULTS_CSV, canonical_order, replace_cells

__all__ = ["allowance", "over_limit_rows", "rerun_over_limit"]


def allowance(limit: float) -> float:
    """The planning wall time a method may take under a time limit of ``limit`` seconds."""
    return limit + max(0.1 * limit, 2.0)


def _rows(out: Path) -> list[dict[str, str]]:
    with open(out / RESULTS_CSV, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def over_limit_rows(
    config: BenchConfig, output_dir: str | os.PathLike[str]
) -> list[tuple[str, str, float, float]]:
    """(cell, method label, plan_s, the method's time limit) of every row over `allowance`.

    Rows of methods without a time limit, or without a planning time, are never over.
    """
    limits = {(c.key, m.label): m.time_limit for c in config.cells() for m in c.methods}
    over = []
    for r in _rows(Path(output_dir)):
        lim = limits.get((r["cell"], r["method"]))
        if lim is None or not r.get("plan_s"):
            continue
        plan_s = float(r["plan_s"])
        if plan_s > allowance(lim):
            over.append((r["cell"], r["method"], plan_s, lim))
    return over


def rerun_over_limit(
    config: BenchConfig | str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    progress: bool = True,
) -> list[tuple[str, str, float, float]]:
    """Plan the over-limit rows of ``output_dir`` again and rewrite their cells' rows.

    Returns the rows found over the allowance before the rerun (as `over_limit_rows`). The
    directory must hold a sweep of ``config`` (same digest in meta.json) whose touched cells are
    complete. Each touched cell is rewritten (results.csv and plans.jsonl, atomically) as soon
    as it is done, so an interrupted rerun keeps the cells finished so far.
    """
    from tqdm.auto import tqdm

    if not isinstance(config, BenchConfig):
        config = load_config(config)
    out = Path(output_dir)
    if not (out / RESULTS_CSV).is_file():
        raise OptionError(f"{out}: no {RESULTS_CSV} to rerun rows of")
    meta = json.loads((out / META_JSON).read_text()) if (out / META_JSON).exists() else {}
    if meta.get("digest") != config.digest:
        raise OptionError(
            f"{out}: holds results of another configuration ({meta.get('config', '?')})"
        )
    cells = {c.key: c for c in config.cells()}
    over = over_limit_rows(config, out)
    todo: dict[str, set[str]] = {}
    for key, label, _, _ in over:
        todo.setdefault(key, set()).add(label)
    rows = _rows(out)
    records: dict[tuple[str, str], dict[str, Any]] = {}
    if (out / PLANS_JSONL).exists():
        for line in (out / PLANS_JSONL).read_text(encoding="utf-8").splitlines():
            rec = json.loads(line) if line else {}
            if rec.get("cell") in todo and "method" in rec:
                records[(rec["cell"], rec["method"])] = rec
    for key in tqdm(list(todo), disable=not progress, desc="rerun", unit="cell"):
        cell: Cell = cells[key]
        old = {r["method"]: r for r in rows if r["cell"] == key}
        missing = [m.label for m in cell.methods if m.label not in old]
        if missing:
            raise OptionError(f"{out}: cell {key} lacks rows of {', '.join(missing)}")
        kept = tuple((r, records.get((key, lab))) for lab, r in old.items() if lab not in todo[key])
        replace_cells(out, {key: run_cell_safe(replace(cell, kept=kept))})
    canonical_order(out, list(cells.values()))
    return over
