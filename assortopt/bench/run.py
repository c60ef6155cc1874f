"""Run a benchmark sweep: every cell of a configuration, rows stored as cells finish.

The cell protocol is `assortopt.bench.cell`, the files and their resume rules
`assortopt.bench.store`, where cells run `assortopt.bench.executors` (``benchmarks/README.md``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..exceptions import OptionError
from .config import BenchConfig, Cell, load_config
from .executors import Executor, PoolExecutor, SerialExecutor
from .store import RESULTS_CSV, canonical_order, partial_cells, prepare, write_cell

__all__ = ["run_bench"]


def run_bench(
    config: BenchConfig | str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    workers: int = 1,
    resume: bool = False,
    progress: bool = True,
    on_cell: Callable[[int], None] | None = None,
    executor: Executor | None = None,
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
        Continue a sweep in ``output_dir``: finished cells are skipped, a torn last line is
        dropped; a cell with rows for only some of its methods keeps them and plans the others
        (every plan of the cell is evaluated again, `assortopt.bench.store.partial_cells`).
        Without it an existing results.csv is an error (nothing is overwritten).
    progress
        Show a tqdm progress bar on stderr.
    on_cell
        Called after each cell's rows are on disk with the number of cells written in this run
        (e.g. to watch or interrupt a sweep).
    executor
        Where the cells run in this process's sweep (`assortopt.bench.executors`); default
        `SerialExecutor` for one worker, else `PoolExecutor` with ``workers`` processes. (Over
        MPI ranks, `assortopt.mpi.run_bench_mpi` keeps the files on rank 0.)

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
    kept = partial_cells(out, cells) if resume else {}
    done = prepare(out, config, cells, resume)
    todo = [replace(c, kept=kept[c.key]) if c.key in kept else c for c in cells
            if c.key not in done]  # fmt: skip
    bar = tqdm(
        total=len(cells),
        initial=len(cells) - len(todo),
        disable=not progress,
        desc=config.name,
        unit="cell",
        dynamic_ncols=True,
    )
    written = 0

    def finish(_cell: Cell, rows: list[dict[str, Any]], records: list[dict[str, Any]]) -> None:
        nonlocal written
        write_cell(out, rows, records)
        written += 1
        bar.update(1)
        if on_cell is not None:
            on_cell(written)

    if executor is None:
        executor = SerialExecutor() if workers == 1 else PoolExecutor(workers)
    try:
        executor.map(todo, finish)
    finally:
        bar.close()
    canonical_order(out, cells)
    return out / RESULTS_CSV
