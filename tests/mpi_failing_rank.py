"""``python -m assortopt`` with one rank failing on purpose: a test driver for tests/test_mpi.py.

Launched as ``mpiexec -n 2 python -m mpi4py tests/mpi_failing_rank.py RANK WHERE ARGS``: rank RANK
raises where WHERE says, and the run must end with that rank's one-line message:

* ``scenarios``: when it first asks for the scenario data
  (`assortopt.mpi.contract.scenario_data`, looked up on its module by every decomposition);
* ``gap``: in its first replication of `assortopt gap` (`assortopt.gap.replication_gap`);
* ``bench``: when it starts its share of a benchmark sweep (`MPIExecutor.map`).
"""

import sys

from mpi4py import MPI

import assortopt.bench.executors as executors
import assortopt.gap as gap
import assortopt.mpi.contract as contract
from assortopt.cli import main

RANK, WHERE = int(sys.argv[1]), sys.argv[2]


def _failing(real):
    def wrapper(*args, **kwargs):
        if MPI.COMM_WORLD.Get_rank() == RANK:
            raise RuntimeError(f"rank {RANK} fails on purpose")
        return real(*args, **kwargs)

    return wrapper


if WHERE == "scenarios":
    contract.scenario_data = _failing(contract.scenario_data)
elif WHERE == "gap":
    gap.replication_gap = _failing(gap.replication_gap)
elif WHERE == "bench":
    executors.MPIExecutor.map = _failing(executors.MPIExecutor.map)
else:
    raise SystemExit(f"unknown failure place {WHERE!r}")
sys.exit(main(sys.argv[3:]))
