"""The benchmark harness: TOML sweeps of instances × methods, resumable CSV rows, a report.

``run_bench(config, output_dir, workers=1, resume=False, progress=True)`` runs a sweep;
``write_report(output_dir)`` writes report.md and figures. See ``benchmarks/README.md``.
"""

from .config import BenchConfig as BenchConfig
from .config import load_config as load_config
from .report import write_report as write_report
from .run import COLUMNS as COLUMNS
from .run import TIMING_COLUMNS as TIMING_COLUMNS
from .run import read_results as read_results
from .run import run_bench as run_bench

__all__ = [
    "BenchConfig",
    "COLUMNS",
    "TIMING_COLUMNS",
    "load_config",
    "read_results",
    "run_bench",
    "write_report",
]
