"""The sweep executors (`assortopt.bench.executors`): one protocol, every cell reported once.

Claims: the serial and the pool executor report every cell exactly once with the rows its runner
returned; pool workers run with one OpenBLAS thread (read from the library itself, not from the
environment, since the variable only counts if set before numpy loads); a cell whose worker
process dies is retried and then recorded as an error row.
"""

from __future__ import annotations

import ctypes
import os
import tomllib

import pytest

from assortopt.bench.config import Cell, parse_config
from assortopt.bench.executors import THREAD_VARIABLES, PoolExecutor, SerialExecutor

CONFIG = """
[bench]
name = "executors"
eval_reps = 10
scenarios = 2
[[grid]]
family = ["sparse"]
n_products = [3]
customers = [4]
seeds = [0, 1, 2]
[[method]]
name = "newsvendor"
"""


def _cells() -> list[Cell]:
    return parse_config(tomllib.loads(CONFIG)).cells()


def _openblas_threads() -> int:
    """The thread count numpy's OpenBLAS runs with in this process (0 if it cannot be read)."""
    import numpy  # noqa: F401  (loads OpenBLAS)

    with open("/proc/self/maps") as f:
        libs = sorted({ln.split()[-1] for ln in f if "openblas" in ln.lower() and "/" in ln})
    for lib in libs:
        handle = ctypes.CDLL(lib)
        for name in ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads"):
            fn = getattr(handle, name, None)
            if fn is not None:
                return int(fn())
    return 0


def _report(cell: Cell):
    """A cell runner that reports the worker's process id and BLAS threads instead of planning."""
    row = {"cell": cell.key, "pid": os.getpid(), "blas": _openblas_threads()}
    row.update({v: os.environ.get(v) for v in THREAD_VARIABLES})
    return [row], [{"cell": cell.key}]


def _die_on_seed_1(cell: Cell):
    if cell.seed == 1:
        os._exit(3)  # the worker process dies under the cell
    return _report(cell)


def _collect(executor, cells):
    got: dict[str, tuple] = {}

    def on_done(cell, rows, records):
        assert cell.key not in got, "a cell was reported twice"
        got[cell.key] = (rows, records)

    executor.map(cells, on_done)
    return got


def test_serial_reports_every_cell_in_order():
    cells = _cells()
    order: list[str] = []
    SerialExecutor(_report).map(cells, lambda c, rows, recs: order.append(rows[0]["cell"]))
    assert order == [c.key for c in cells]


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="needs /proc to find OpenBLAS")
def test_pool_workers_run_one_blas_thread(monkeypatch):
    for v in THREAD_VARIABLES:
        monkeypatch.delenv(v, raising=False)
    cells = _cells()
    got = _collect(PoolExecutor(2, _report), cells)
    assert set(got) == {c.key for c in cells}
    rows = [rows[0] for rows, _ in got.values()]
    assert all(r["pid"] != os.getpid() for r in rows)
    assert all(r["blas"] == 1 for r in rows), rows
    assert all(r[v] == "1" for r in rows for v in THREAD_VARIABLES)
    # the parent's environment is left as it was
    assert all(v not in os.environ for v in THREAD_VARIABLES)


def test_pool_records_a_cell_whose_worker_dies():
    cells = _cells()
    got = _collect(PoolExecutor(2, _die_on_seed_1), cells)
    assert set(got) == {c.key for c in cells}
    dead = next(c for c in cells if c.seed == 1)
    rows, records = got[dead.key]
    assert records == [] and [r["status"] for r in rows] == ["error"]
    assert "worker process died" in rows[0]["message"]
    for c in cells:
        rows, _ = got[c.key]
        # the others ran (or, if a broken pool took them down three times, are error rows)
        assert rows[0]["cell"] == c.key
