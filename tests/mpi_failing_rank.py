"""``python -m assortopt`` with rank 1 failing on purpose: a test driver for tests/test_mpi.py.

Launched as ``mpiexec -n 2 python -m mpi4py tests/mpi_failing_rank.py ARGS``. Rank 1 raises when
it first asks for the scenario data (`assortopt.mpi.contract.scenario_data`, looked up on its
module by every decomposition), so the run must end with that rank's one-line message.
"""

import sys

from mpi4py import MPI

import assortopt.mpi.contract as contract
from assortopt.cli import main

_scenario_data = contract.scenario_data


def _failing_scenario_data(*args, **kwargs):
    if MPI.COMM_WORLD.Get_rank() == 1:
        raise RuntimeError("rank 1 fails on purpose")
    return _scenario_data(*args, **kwargs)


contract.scenario_data = _failing_scenario_data
sys.exit(main(sys.argv[1:]))
