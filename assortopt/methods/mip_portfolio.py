"""``mip`` with ``formulation="portfolio"``: two exact searches race on the same SAA problem.

The branch-and-bound over the stock (`assortopt.methods.mip_bnb.plan_bnb` with ``portfolio``,
models/stock_bnb.md) runs in this process and starts `Rival`: the strong HiGHS model
(models/sample_path_mip.md) in a second one, started as ``python -m
assortopt.methods.mip_portfolio`` and fed the instance, the same scenarios and the warm start
through a pipe. They trade what they find while they run: the HiGHS process sends
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
import os
import pickle
import queue
import subprocess
import sys
import threading
import time
from typing import Any, BinaryIO

import numpy as np

from ..instance import Instance
from ..streams import Stream
from .base import PlanRequest

#: A bound message is sent at most this often (seconds); a better plan at once.
_SEND_S = 0.1


class Rival:
    """The HiGHS process, seen from the search: `__call__` is `solve_stock_bnb`'s ``external``
    hook (sends the search's incumbent, returns the latest proven bound and the new plans)."""

    #: How the process is started (a class attribute so that a test can make it fail).
    command = (sys.executable, "-m", "assortopt.methods.mip_portfolio")

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
            "stream": stream,
            "candidates": candidates,
            "min_stock": lo,
            "committed": req.committed,
            "options": options,
            "start": start,
        }
        return cls(job, options.verbose)

    def __init__(self, job: dict[str, Any], verbose: bool) -> None:
        import assortopt

        root = os.path.dirname(os.path.dirname(os.path.abspath(assortopt.__file__)))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        self.proc = subprocess.Popen(
            list(self.command),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None if verbose else subprocess.DEVNULL,
            env=env,
        )
        self.lock = threading.Lock()
        self.bound: float | None = None
        self.plans: list[np.ndarray] = []
        self.found = 0
        self.final: dict[str, Any] | None = None
        self.error: str | None = None
        self.sent: np.ndarray | None = None
        self.killed = False
        # the pipe holds 64 KiB: writing the job (the scenarios) waits for the process to read
        # it, after its imports, so a thread writes everything, in order, and the search never waits
        self.outbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.outbox.put(job)
        self.writer = threading.Thread(target=self._write, daemon=True)
        self.writer.start()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _send(self, message: Any) -> None:
        self.outbox.put(message)

    def _write(self) -> None:
        while (message := self.outbox.get()) is not None:
            try:
                pickle.dump(message, self.proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError, ValueError):
                return  # the process has ended: what it said is in self.final / self.error

    def _read(self) -> None:
        out = self.proc.stdout
        while True:
            try:
                kind, *rest = pickle.load(out)
            except (EOFError, OSError, pickle.UnpicklingError, ValueError):
                break
            with self.lock:
                if kind == "bound":
                    self._take_bound(rest[0])
                elif kind == "plan":
                    self.plans.append(rest[0])
                    self.found += 1
                elif kind == "done":
                    self.final = rest[0]
                    self._take_bound(self.final.get("bound"))
                    if self.final.get("stock") is not None:
                        self.plans.append(self.final["stock"])
                elif kind == "error":
                    self.error = rest[0]
        with self.lock:
            code = self.proc.wait()
            if self.final is None and self.error is None and not self.killed and code != 0:
                self.error = f"the HiGHS process ended with exit status {code}"

    def _take_bound(self, b: float | None) -> None:
        if b is not None and np.isfinite(b):
            self.bound = b if self.bound is None else min(self.bound, b)

    def __call__(self, best: float, best_q: np.ndarray) -> tuple[float | None, list[np.ndarray]]:
        if self.sent is None or not np.array_equal(self.sent, best_q):
            self.sent = best_q
            self._send(("plan", best_q))
        with self.lock:
            plans, self.plans = self.plans, []
            return self.bound, plans

    def close(self) -> dict[str, Any]:
        """Stop the process; what it reached (for the plan's ``extra``)."""
        with self.lock:
            self.killed = self.proc.poll() is None
        self.proc.kill()
        self.proc.wait()
        self.outbox.put(None)
        self.writer.join(timeout=5.0)
        self.reader.join(timeout=5.0)
        with self.lock:
            final = self.final or {}
            return {
                "status": final.get("status", "stopped"),
                "objective": final.get("objective"),
                "bound": self.bound,
                "plans_found": self.found,
                "error": self.error,
            }


# ----------------------------------------------------------------------------- the process
class _Reporter:
    """The HiGHS process's `assortopt.solver.highs.RunObserver`: sends bounds and plans to the
    search, and hands HiGHS the search's latest incumbent as a user solution."""

    def __init__(self, out: BinaryIO, f: Any, inst: Instance) -> None:
        self.out, self.f, self.inst = out, f, inst
        self.last_bound = np.inf
        self.last_sent = 0.0
        self.incoming: np.ndarray | None = None
        self.lock = threading.Lock()

    def send(self, message: Any) -> None:
        pickle.dump(message, self.out, protocol=pickle.HIGHEST_PROTOCOL)
        self.out.flush()

    def bound(self, value: float) -> None:
        now = time.perf_counter()
        if value < self.last_bound - 1e-9 and now - self.last_sent > _SEND_S:
            self.last_bound, self.last_sent = value, now
            self.send(("bound", value))

    def solution(self, x: np.ndarray) -> None:
        self.send(("plan", self.f.stock(x, self.inst.n)))

    def user_solution(self) -> np.ndarray | None:
        from ..models.sample_path_mip import complete_start

        with self.lock:
            q, self.incoming = self.incoming, None
        if q is None:
            return None
        x = complete_start(self.f, self.inst, q)
        return x if self.f.lp.is_feasible(x) else None

    def listen(self, inp: BinaryIO) -> None:
        while True:
            try:
                kind, q = pickle.load(inp)
            except (EOFError, OSError, pickle.UnpicklingError, ValueError):
                return
            if kind == "plan":
                with self.lock:
                    self.incoming = np.asarray(q, np.int64)


def _main() -> None:
    """The HiGHS process: build the strong model on the job's scenarios and solve it."""
    import traceback

    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # stray output (HiGHS's log) goes to stderr, never into the messages
    inp = sys.stdin.buffer
    job = pickle.load(inp)
    rep: _Reporter | None = None
    try:
        from ..models.committed import fix_committed
        from ..models.sample_path_mip import (
            build_sample_path_mip,
            complete_start,
            solve_sample_path_mip,
        )
        from ..solver.highs import observe

        inst = job["inst"]
        f = build_sample_path_mip(
            inst, job["stream"], "strong", job["candidates"], min_stock=job["min_stock"]
        )
        fix_committed(f, job["committed"])
        rep = _Reporter(out, f, inst)
        threading.Thread(target=rep.listen, args=(inp,), daemon=True).start()
        x0 = None
        if job["start"] is not None:
            x0 = complete_start(f, inst, job["start"])
            x0 = x0 if f.lp.is_feasible(x0) else None
        with observe(rep):
            res = solve_sample_path_mip(f, inst, job["options"], start=x0, lp_first=True)
        rep.send(
            (
                "done",
                {
                    "status": res.status,
                    "objective": res.objective,
                    "bound": res.bound,
                    "stock": None if res.x is None else f.stock(res.x, inst.n),
                    "message": res.message,
                },
            )
        )
    except Exception:  # noqa: BLE001 - reported to the search, which carries on alone
        msg = traceback.format_exc().strip().splitlines()[-1]
        pickle.dump(("error", msg), out)
        out.flush()


if __name__ == "__main__":
    _main()
