"""MPI scale-out with mpi-sppy: the two-stage SAA programs as mpi-sppy scenario models.

Launch line (the ``[mpi]`` extra installs mpi-sppy, mpi4py and the ``mpich`` wheel)::

    mpiexec -n P python -m mpi4py -m assortopt solve INSTANCE --method spill-mip --mpi \
        --decomposition ph --scenarios 200 --seed 0 --output plan.json

Modules: ``contract`` (the mpi-sppy scenario contract: `scenario_creator` and the other four
functions of an mpi-sppy model module, for ``saa-lp-all``, ``spill-mip`` and ``mip``), ``comm``
(rank plumbing), one module per decomposition (``ef``, ``ph``, ``lshaped``), ``solve`` (the entry
point `solve_mpi`, rounding and packaging) and ``sweep`` (`run_bench_mpi`, the benchmark sweep on
`assortopt.bench.MPIExecutor`). This package is itself an mpi-sppy model module: its top level
re-exports the five contract functions. The write-up is models/mpi.md.

Decompositions (`solve_mpi`): ``ef`` (the extensive form, built by ``sputils.create_EF`` from
the scenario models and solved by HiGHS on rank 0; other ranks idle), ``ph`` (progressive
hedging hub with linearised proximal terms, a Lagrangian outer-bound spoke and an xhatshuffle
inner-bound spoke, so the reported gap is certified; needs P a multiple of 3, and with P = 2 the
hub and the xhatshuffle spoke run, the hub's own trivial (wait-and-see) bound being the outer
bound) and ``lshaped`` (``saa-lp-all`` only: the project's L-shaped decomposition of the
SAA-LP, `assortopt.models.saa_decomposition`, with the exact scenario LPs spread over the ranks;
mpi-sppy's own L-shaped method generates cuts with ``pyomo.contrib.benders``, whose HiGHS
subproblems fail, models/mpi.md).
"""

from .contract import FORMULATIONS as FORMULATIONS
from .contract import ScenarioData as ScenarioData
from .contract import inparser_adder as inparser_adder
from .contract import kw_creator as kw_creator
from .contract import scenario_creator as scenario_creator
from .contract import scenario_data as scenario_data
from .contract import scenario_denouement as scenario_denouement
from .contract import scenario_names_creator as scenario_names_creator
from .result import MPIResult as MPIResult
from .solve import DECOMPOSITIONS as DECOMPOSITIONS
from .solve import PARAMS as PARAMS
from .solve import solve_mpi as solve_mpi
from .sweep import run_bench_mpi as run_bench_mpi

__all__ = [
    "DECOMPOSITIONS",
    "FORMULATIONS",
    "MPIResult",
    "PARAMS",
    "ScenarioData",
    "inparser_adder",
    "kw_creator",
    "run_bench_mpi",
    "scenario_creator",
    "scenario_data",
    "scenario_denouement",
    "scenario_names_creator",
    "solve_mpi",
]
