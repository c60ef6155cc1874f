"""A benchmark sweep with its cells spread over the MPI ranks (``bench --mpi``).

The same sweep as `assortopt.bench.run_bench`, through the public pieces of `assortopt.bench`:
the results store (`assortopt.bench.store`) on rank 0 and `assortopt.bench.MPIExecutor`.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..bench.config import Cell, load_config
from ..bench.executors import MPIExecutor
from ..bench.store import RESULTS_CSV, canonical_order, partial_cells, prepare, write_cell
from ..exceptions import InstanceError, OptionError
from .comm import abort, agree

__all__ = ["run_bench_mpi"]


def run_bench_mpi(
    config: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    resume: bool = False,
    executor: MPIExecutor | None = None,
) -> Path | None:
    """`assortopt.bench.run_bench` with the cells spread over the MPI ranks.

    Rank r runs cells r, r + P, r + 2P, ... of the cells still to do (the same cell runner as
    the serial sweep, so rows are the same, timings aside); rank 0 also writes: it appends each
    cell's rows as they arrive (one write + fsync per cell, as the serial sweep) and finally
    puts the file in configuration order. ``resume`` has the serial meaning. Returns the
    results CSV on rank 0, None elsewhere. Input errors are raised on rank 0 (other ranks exit
    with status 2); a rank that fails otherwise prints one line and aborts the run.

    Each rank's BLAS and OpenMP thread counts are those of the environment mpiexec started it
    with (they are read when numpy loads): launch with ``OMP_NUM_THREADS=1
    OPENBLAS_NUM_THREADS=1`` for one thread per rank.
    """
    executor = executor if executor is not None else MPIExecutor()
    comm = executor.comm
    rank = comm.Get_rank()
    err: BaseException | None = None
    done: set[str] = set()
    kept: dict[str, tuple] = {}
    cfg = cells = None
    out = Path(output_dir)
    try:
        cfg = load_config(config)
        cells = cfg.cells()
    except (OptionError, InstanceError) as exc:
        err = exc
    except Exception as exc:  # noqa: BLE001  (not bad input: every rank stops)
        abort(comm, exc, "reading the benchmark configuration")
    agree(comm, err)
    assert cfg is not None and cells is not None
    if rank == 0:
        try:
            kept = partial_cells(out, cells) if resume else {}
            done = prepare(out, cfg, cells, resume)
        except (OptionError, InstanceError) as exc:
            err = exc
        except Exception as exc:  # noqa: BLE001
            abort(comm, exc, "preparing the output directory")
    agree(comm, err if rank == 0 else None)
    done, kept = comm.bcast((done, kept), root=0)
    todo = [replace(c, kept=kept[c.key]) if c.key in kept else c for c in cells
            if c.key not in done]  # fmt: skip

    def on_done(_cell: Cell, rows: list[dict[str, Any]], records: list[dict[str, Any]]) -> None:
        write_cell(out, rows, records)

    try:
        executor.map(todo, on_done)
    except BaseException as exc:  # noqa: BLE001
        abort(comm, exc, "the benchmark sweep")
        raise  # pragma: no cover  (Abort does not return)
    comm.Barrier()
    if rank != 0:
        return None
    canonical_order(out, cells)
    return out / RESULTS_CSV
