"""Child-process targets for tests/test_mip_isolate.py (run by `assortopt.solver.process`)."""

from __future__ import annotations

import threading
import time

from assortopt.models.sample_path_mip.process import _Reporter
from assortopt.models.sample_path_mip.solve import solve_sample_path_mip
from assortopt.solver import SolverOptions
from assortopt.solver.highs import observe


def stall(job, send, inbox) -> None:
    """Solve the job's model to optimality with the real observer (its bounds and solutions
    reach the caller; the LP relaxation first as the job says), then hang like a HiGHS phase
    that never asks its callbacks."""
    f, inst = job["f"], job["inst"]
    rep = _Reporter(send, f, inst)
    threading.Thread(target=rep.listen, args=(inbox,), daemon=True).start()
    with observe(rep):
        opts = SolverOptions(threads=1, mip_gap=0.0)
        solve_sample_path_mip(f, inst, opts, lp_first=job["lp_first"])
    time.sleep(3600)


def hang(job, send, inbox) -> None:
    """Read the caller's messages until it goes away (then the runner exits this process)."""
    for _ in inbox:
        pass
