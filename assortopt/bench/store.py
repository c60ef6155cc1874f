"""The results store of a sweep: rows appended with fsync, resume, canonical order.

Output directory layout (``benchmarks/README.md``):

``results.csv``
    One row per (cell, method), columns `assortopt.bench.cell.COLUMNS`. A cell's rows are
    appended in one ``write`` followed by ``fsync``, so an interrupted sweep keeps every finished
    cell and at worst a torn last line, which ``resume`` cuts off. ``resume`` reruns a cell whose
    rows are all gone; a cell with only some rows (the others deleted, e.g. to rerun one method
    with newer code) keeps those and plans only the missing methods (`partial_cells`).
``plans.jsonl``
    Per cell, one ``{"cell", "demand"}`` record (mean first-choice demand T·λ by demand rank) and
    one ``{"cell", "method", "rank", "units"}`` record per plan (demand ranks of the stocked
    products and their units), for the long-tail figure.
``config.toml``, ``meta.json``
    The configuration as read and its digest: ``resume`` refuses a directory written for
    another configuration.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import OptionError
from .cell import COLUMNS
from .config import BenchConfig, Cell

__all__ = [
    "CONFIG_COPY",
    "META_JSON",
    "PLANS_JSONL",
    "RESULTS_CSV",
    "canonical_order",
    "partial_cells",
    "prepare",
    "read_results",
    "replace_cells",
    "write_cell",
]

RESULTS_CSV = "results.csv"
PLANS_JSONL = "plans.jsonl"
META_JSON = "meta.json"
CONFIG_COPY = "config.toml"


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return "" if not math.isfinite(v) else repr(v)
    if isinstance(v, np.generic):
        return _fmt(v.item())
    return str(v)


def _csv_text(
    rows: Iterable[dict[str, Any]], header: bool = False, columns: Iterable[str] = COLUMNS
) -> str:
    columns = tuple(columns)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    if header:
        w.writerow(columns)
    for r in rows:
        w.writerow([_fmt(r.get(c)) for c in columns])
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


def write_cell(out: Path, rows: list[dict[str, Any]], records: list[dict[str, Any]]) -> None:
    """Append one cell's plan records, then its rows (each one write + fsync)."""
    if records:
        _append(
            out / PLANS_JSONL, "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)
        )
    _append(out / RESULTS_CSV, _csv_text(rows))


def replace_cells(
    out: Path, results: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]]
) -> None:
    """Replace the rows and plan records of the cells keyed in ``results`` by new ones.

    Every other line of results.csv and plans.jsonl is kept as it is; each file is rewritten
    atomically (then `canonical_order` puts the cells back in configuration order). The new
    rows are written in the file's own columns (a file of an older version may lack columns
    added since): `OptionError` if a new row has a value in a column the file lacks.
    """
    csv_path = out / RESULTS_CSV
    lines = _complete_lines(csv_path)
    columns = next(csv.reader([lines[0]]))
    rows_new = [row for rows, _ in results.values() for row in rows]
    lost = sorted({c for r in rows_new for c in r if c not in columns and _fmt(r[c]) != ""})
    if lost:
        raise OptionError(f"{csv_path}: has no column(s) {', '.join(lost)} for the new rows")
    keep = [ln for ln in lines[1:] if ln and next(csv.reader([ln]))[0] not in results]
    new_rows = _csv_text(rows_new, columns=columns)
    _replace(csv_path, "\n".join([lines[0], *keep]) + "\n" + new_rows)
    plans = out / PLANS_JSONL
    kept = [ln for ln in _complete_lines(plans) if ln and json.loads(ln)["cell"] not in results]
    new_recs = [json.dumps(r, separators=(",", ":")) for _, recs in results.values() for r in recs]
    _replace(plans, "".join(ln + "\n" for ln in [*kept, *new_recs]))


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


def partial_cells(out: Path, cells: list[Cell]) -> dict[str, tuple]:
    """Cells of ``out`` with rows on disk for some but not all of their methods (rows deleted
    by hand to rerun those methods): key -> ``Cell.kept`` (each kept row as read, with its plan
    record). Read before `prepare`, which drops such rows."""
    csv_path = out / RESULTS_CSV
    lines = _complete_lines(csv_path)
    if not lines or lines[0] != ",".join(COLUMNS):
        return {}
    by_key = {c.key: c for c in cells}
    rows: dict[str, dict[str, dict[str, str]]] = {}
    for row in csv.DictReader(io.StringIO("\n".join(lines) + "\n")):
        c = by_key.get(row["cell"])
        if c is not None and row["method"] in {m.label for m in c.methods}:
            rows.setdefault(row["cell"], {})[row["method"]] = row
    partial = {k: rs for k, rs in rows.items() if len(rs) < len(by_key[k].methods)}
    recs: dict[tuple[str, str], dict[str, Any]] = {}
    for line in _complete_lines(out / PLANS_JSONL):
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if rec.get("cell") in partial and "method" in rec:
            recs.setdefault((rec["cell"], rec["method"]), rec)
    result: dict[str, tuple] = {}
    for k, rs in partial.items():
        # a row with a plan but without its plan record cannot be evaluated again: replan it
        kept = tuple(
            (row, recs.get((k, lab)))
            for lab, row in rs.items()
            if (k, lab) in recs or row["status"] in ("error", "infeasible")
        )
        if kept:
            result[k] = kept
    return result


def canonical_order(out: Path, cells: list[Cell]) -> None:
    """Rewrite results.csv and plans.jsonl in config order (cells, then methods)."""
    pos = {c.key: (c.index, {m.label: j for j, m in enumerate(c.methods)}) for c in cells}

    def key(cell_key: str, method: str | None) -> tuple:
        i, mj = pos.get(cell_key, (len(pos), {}))
        return (i, cell_key, -1 if method is None else mj.get(method, len(mj)), method or "")

    csv_path = out / RESULTS_CSV
    lines = _complete_lines(csv_path)
    body = [ln for ln in lines[1:] if ln]
    parsed = [(next(csv.reader([ln])), ln) for ln in body]
    header = next(csv.reader([lines[0]]))  # the file's own (an older file may lack columns)
    ci, mi = header.index("cell"), header.index("method")
    parsed.sort(key=lambda p: key(p[0][ci], p[0][mi]))
    _replace(csv_path, "\n".join([lines[0], *(ln for _, ln in parsed)]) + "\n")
    plans = out / PLANS_JSONL
    if plans.exists():
        recs = [(json.loads(ln), ln) for ln in _complete_lines(plans) if ln]
        recs.sort(key=lambda p: key(p[0]["cell"], p[0].get("method")))
        _replace(plans, "".join(ln + "\n" for _, ln in recs))


def prepare(out: Path, config: BenchConfig, cells: list[Cell], resume: bool) -> set[str]:
    """Start (or, with ``resume``, recover) the sweep in ``out``: the keys of finished cells.

    Raises `OptionError` for an existing results file without ``resume`` or a directory
    written for another configuration.
    """
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
