"""``mip`` with ``formulation="portfolio"``: two exact searches race on the same SAA problem.

The branch-and-bound over the stock (`assortopt.methods.mip_bnb.plan_bnb` with ``portfolio``,
models/stock_bnb.md) runs in this process and starts `Rival`: the strong HiGHS model
(models/sample_path_mip.md) in a second one (`assortopt.models.sample_path_mip.process.serve`
in an `assortopt.solver.process.Child`), fed the instance, the same scenarios and the warm
start through a pipe. They trade what they find while they run: the HiGHS process sends
its proven bound and each improving plan, this process sends the search's incumbent back (given
to HiGHS as a user solution). The plans HiGHS finds are scored by the exact simulator like any
other; the reported bound is the smaller of the two, so the result is optimal as soon as either
search's bound meets the best plan. The time limit is the whole call's: the second process is
killed when the search ends (models/stock_bnb.md §7).

Why: at N = 10 the branch-and-bound certifies in seconds where HiGHS does not, at N = 20,
T = 100 the strong model's bound is the better one after 10 minutes while the branch-and-bound's
plans are (§5.1). A thread would not do: the HiGHS callbacks need the GIL, which the busy search
holds (§6).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from ..instance import Instance
from ..models.sample_path_mip.process import TARGET
from ..solver.process import Child
from ..streams import Stream
from .base import PlanRequest


class Rival:
    """The HiGHS process, seen from the search: `__call__` is `solve_stock_bnb`'s ``external``
    hook (sends the search's incumbent, returns the latest proven bound and the new plans)."""

    @classmethod
    def start(
        cls,
        inst: Instance,
        req: PlanRequest,
        stream: Stream,
        candidates: np.ndarray,
        lo: np.ndarray | None,
        start: np.ndarray | None,
        t0: float,
    ) -> Rival:
        """Start the strong model of ``mip``'s call ``req`` on ``stream`` in a second process,
        with what is left of the call's time limit (``t0``: when the call started)."""
        options = req.options
        if options.time_limit is not None:  # the search kills the process at the end anyway
            left = max(1e-3, options.time_limit - (time.perf_counter() - t0))
            options = dataclasses.replace(options, time_limit=left)
        job = {
            "inst": inst,
            "build": {
                "stream": stream,
                "candidates": candidates,
                "min_stock": lo,
                "committed": req.committed,
            },
            "options": options,
            "start_stock": start,
            "lp_first": True,
            "sent": time.time(),
        }
        return cls(job, options.verbose)

    def __init__(self, job: dict[str, Any], verbose: bool) -> None:
        self.child = Child(TARGET, job, verbose)
        self.bound: float | None = None
        self.plans: list[np.ndarray] = []
        self.found = 0
        self.final: dict[str, Any] | None = None
        self.sent: np.ndarray | None = None

    @property
    def error(self) -> str | None:
        return self.child.error

    def _take(self) -> None:
        for kind, *rest in self.child.take():
            if kind == "bound":
                self._take_bound(rest[0])
            elif kind == "solution":
                self.plans.append(rest[1])
                self.found += 1
            elif kind == "done":
                res, stock = rest
                self.final = {"status": res.status, "objective": res.objective}
                self._take_bound(res.bound)
                if stock is not None:
                    self.plans.append(stock)

    def _take_bound(self, b: float | None) -> None:
        if b is not None and np.isfinite(b):
            self.bound = b if self.bound is None else min(self.bound, b)

    def __call__(self, best: float, best_q: np.ndarray) -> tuple[float | None, list[np.ndarray]]:
        if self.sent is None or not np.array_equal(self.sent, best_q):
            self.sent = best_q
            self.child.send(("plan", best_q))
        self._take()
        plans, self.plans = self.plans, []
        return self.bound, plans

    def close(self) -> dict[str, Any]:
        """Stop the process; what it reached (for the plan's ``extra``)."""
        self.child.close()
        self._take()
        final = self.final or {}
        return {
            "status": final.get("status", "stopped"),
            "objective": final.get("objective"),
            "bound": self.bound,
            "plans_found": self.found,
            "error": self.child.error,
        }
