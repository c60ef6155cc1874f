"""Where a sweep's cells run: in this process, in a process pool, or over MPI ranks.

Every executor has one method, ``map(cells, on_done)``: it runs ``run(cell)`` (default
`assortopt.bench.cell.run_cell_safe`) for each cell and calls ``on_done(cell, rows, records)``
in the calling process as each cell finishes (on rank 0 for `MPIExecutor`), in completion
order. ``run`` never raises for a failing method; an executor turns what it cannot run (a dead
worker process) into error rows, so every cell gets its rows exactly once.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

from ..exceptions import OptionError
from .cell import CellResult, error_cell, error_text, run_cell_safe
from .config import Cell

__all__ = [
    "THREAD_VARIABLES",
    "Executor",
    "MPIExecutor",
    "OnDone",
    "PoolExecutor",
    "SerialExecutor",
    "single_threaded_env",
]

#: Called in the parent with each finished cell and its rows and plan records.
OnDone = Callable[[Cell, list[dict[str, Any]], list[dict[str, Any]]], None]
#: Thread-count variables of OpenMP, OpenBLAS, MKL and numba, read once when each library
#: loads: they must be in a worker's environment before it imports numpy.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMBA_NUM_THREADS",
)
_ATTEMPTS = 3  # tries per cell when a worker process dies under it
_TAG_ROWS, _TAG_DONE = 71, 72


class Executor(Protocol):
    """Runs cells and reports each finished one through ``on_done``."""

    def map(self, cells: Sequence[Cell], on_done: OnDone) -> None: ...


class SerialExecutor:
    """Every cell in this process, in order."""

    def __init__(self, run: Callable[[Cell], CellResult] = run_cell_safe) -> None:
        self.run = run

    def map(self, cells: Sequence[Cell], on_done: OnDone) -> None:
        for cell in cells:
            on_done(cell, *self.run(cell))


@contextlib.contextmanager
def single_threaded_env() -> Iterator[None]:
    """Set `THREAD_VARIABLES` to 1 in ``os.environ`` for the block, then restore them.

    Processes started inside the block (spawned pool workers) inherit the variables before
    they import numpy, which is when OpenBLAS reads them; this process is not affected.
    """
    old = {v: os.environ.get(v) for v in THREAD_VARIABLES}
    os.environ.update({v: "1" for v in THREAD_VARIABLES})
    try:
        yield
    finally:
        for v, x in old.items():
            if x is None:
                os.environ.pop(v, None)
            else:
                os.environ[v] = x


class PoolExecutor:
    """Cells in ``workers`` spawned processes, one BLAS/OpenMP/numba thread each.

    A cell whose worker died is retried (3 tries in all) in a fresh pool, then recorded as an
    error row. ``run`` must be picklable (a module-level function).
    """

    def __init__(self, workers: int, run: Callable[[Cell], CellResult] = run_cell_safe) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise OptionError(f"workers must be an integer >= 1, got {workers!r}")
        self.workers = workers
        self.run = run

    def map(self, cells: Sequence[Cell], on_done: OnDone) -> None:
        import multiprocessing as mp

        # spawn, not fork(server): a worker starts from nothing with the environment below
        ctx = mp.get_context("spawn")
        attempts = {c.key: 0 for c in cells}
        pending = list(cells)
        with single_threaded_env():
            while pending:
                retry: list[Cell] = []
                ex = ProcessPoolExecutor(
                    max_workers=min(self.workers, len(pending)), mp_context=ctx
                )
                try:
                    futures = {ex.submit(self.run, c): c for c in pending}
                    for fut in as_completed(futures):
                        cell = futures[fut]
                        try:
                            rows, records = fut.result()
                        except BrokenProcessPool:
                            attempts[cell.key] += 1
                            if attempts[cell.key] < _ATTEMPTS:
                                retry.append(cell)
                                continue
                            rows, records = error_cell(
                                cell, "the worker process died (out of memory or killed?)"
                            )
                        except Exception as e:  # noqa: BLE001
                            rows, records = error_cell(cell, error_text(e))
                        on_done(cell, rows, records)
                except BaseException:
                    ex.shutdown(wait=False, cancel_futures=True)
                    raise
                ex.shutdown(wait=True)
                pending = sorted(retry, key=lambda c: c.index)


class MPIExecutor:
    """Cells spread over the ranks of ``comm`` (default ``MPI.COMM_WORLD``).

    Collective: every rank calls ``map`` with the same cells. Rank r runs cells r, r + P,
    r + 2P, ...; rank 0 calls ``on_done`` for its own cells and for those the other ranks send
    as they finish (``on_done`` is not called elsewhere). An exception on a rank propagates on
    that rank only: the caller decides how to stop the others (`assortopt.mpi` aborts).
    The ranks' thread counts are those of the environment mpiexec started them with.
    """

    def __init__(self, comm: Any = None, run: Callable[[Cell], CellResult] = run_cell_safe) -> None:
        if comm is None:
            from mpi4py import MPI

            comm = MPI.COMM_WORLD
        self.comm = comm
        self.run = run

    def map(self, cells: Sequence[Cell], on_done: OnDone) -> None:
        comm = self.comm
        rank, size = comm.Get_rank(), comm.Get_size()
        mine = list(cells)[rank::size]
        if rank != 0:
            for cell in mine:
                comm.send((cell.index, self.run(cell)), dest=0, tag=_TAG_ROWS)
            comm.send(None, dest=0, tag=_TAG_DONE)
            return
        by_index = {c.index: c for c in cells}
        others = size - 1

        def drain(block: bool) -> None:
            nonlocal others
            from mpi4py import MPI

            st = MPI.Status()
            while others:
                if not block and not comm.iprobe(source=MPI.ANY_SOURCE, tag=MPI.ANY_TAG, status=st):
                    return
                msg = comm.recv(source=MPI.ANY_SOURCE, tag=MPI.ANY_TAG, status=st)
                if st.Get_tag() == _TAG_DONE:
                    others -= 1
                else:
                    index, (rows, records) = msg
                    on_done(by_index[index], rows, records)

        for cell in mine:
            on_done(cell, *self.run(cell))
            drain(block=False)
        drain(block=True)
