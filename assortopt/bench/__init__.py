"""The benchmark harness: TOML sweeps of instances × methods, resumable CSV rows, a report.

``run_bench(config, output_dir, workers=1, resume=False, progress=True)`` runs a sweep;
``write_report(output_dir)`` writes report.md and figures. See ``benchmarks/README.md``.
Modules: ``config`` (TOML → cells), ``cell`` (one cell's rows), ``store`` (results files),
``executors`` (serial, process pool, MPI), ``run`` (the sweep), ``rerun`` (rows over the
time allowance), ``tables`` / ``figures`` /
``report`` (report.md).
"""

from .cell import COLUMNS as COLUMNS
from .cell import TIMING_COLUMNS as TIMING_COLUMNS
from .config import BenchConfig as BenchConfig
from .config import load_config as load_config
from .executors import Executor as Executor
from .executors import MPIExecutor as MPIExecutor
from .executors import PoolExecutor as PoolExecutor
from .executors import SerialExecutor as SerialExecutor
from .report import write_report as write_report
from .rerun import rerun_over_limit as rerun_over_limit
from .run import run_bench as run_bench
from .store import read_results as read_results

__all__ = [
    "BenchConfig",
    "COLUMNS",
    "Executor",
    "MPIExecutor",
    "PoolExecutor",
    "SerialExecutor",
    "TIMING_COLUMNS",
    "load_config",
    "read_results",
    "rerun_over_limit",
    "run_bench",
    "write_report",
]
