"""``mip --param isolate``: the HiGHS model solved in a second process, killed at the limit.

Claims under test, each against an independent truth:

* an isolated solve ends with the exhaustive SAA optimum (every plan simulated on the same
  scenarios), like the solve in this process;
* a child that stops asking its callbacks (a stand-in for HiGHS's uninterruptible phases) is
  killed at the limit: the call returns within it, with the best plan the child reported (its
  value the simulated one) and a bound no smaller than the exhaustive optimum, and no process
  is left;
* a child that fails is named in the message and the warm start's plan is kept;
* a child whose caller goes away exits by itself;
* ``isolate=auto`` isolates time-limited solves of large models only.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import pytest
from factories import random_instance
from test_stock_bnb import exhaustive, saa

from assortopt.methods import mip as mip_module
from assortopt.methods.base import PlanRequest, get_method
from assortopt.models.sample_path_mip import process
from assortopt.sampling import sample_streams
from assortopt.solver import SolverOptions
from assortopt.solver.process import Child

HERE = os.path.dirname(os.path.abspath(__file__))


def _request(limit, **params):
    return PlanRequest(
        scenarios=10,
        seed=4,
        options=SolverOptions(threads=1, mip_gap=0.0, time_limit=limit),
        params={"formulation": "strong", **params},
    )


def _optimum(inst):
    st = sample_streams(inst, 10, 4)
    top = int(st.customers_per_scenario.max())
    return exhaustive(inst, st, np.zeros(inst.n, int), np.full(inst.n, top)), st


def _children() -> list[int]:
    me, out = str(os.getpid()), []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as fh:
                ppid = fh.read().rsplit(")", 1)[1].split()[1]
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmd = fh.read()
        except OSError:
            continue
        if ppid == me and b"assortopt.solver.process" in cmd:
            out.append(int(pid))
    return out


@pytest.mark.parametrize("seed", [0, 1])
def test_an_isolated_solve_finds_the_exhaustive_optimum(seed: int) -> None:
    inst = random_instance(3, seed=60 + seed, T=5, fixed=True)
    (want, _), st = _optimum(inst)
    p = get_method("mip")(inst, _request(60.0, start="none", isolate="true"))
    assert p.extra["isolated"] is True
    assert p.status == "optimal"
    assert p.objective == pytest.approx(want, abs=1e-6)
    assert saa(inst, st, p.stock) == pytest.approx(want, abs=1e-9)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("lp_first", ["true", "false"])
def test_a_stalled_child_is_killed_at_the_limit_with_its_best_plan(monkeypatch, lp_first) -> None:
    monkeypatch.setenv("PYTHONPATH", HERE)
    monkeypatch.setattr(process, "TARGET", "isolate_targets:stall")
    inst = random_instance(4, seed=7, T=6, fixed=True)
    (want, _), st = _optimum(inst)
    limit = 4.0
    t0 = time.perf_counter()
    p = get_method("mip")(inst, _request(limit, start="none", isolate="true", lp_first=lp_first))
    elapsed = time.perf_counter() - t0
    assert elapsed <= limit * 1.1 + 1.5
    assert p.status == "feasible" and p.termination == "time_limit"
    assert "the HiGHS process was stopped" in p.message
    assert p.objective == pytest.approx(saa(inst, st, p.stock), abs=1e-9)
    assert p.objective == pytest.approx(want, abs=1e-6)  # the child reached the optimum
    if lp_first == "true":  # the relaxation's value was reported
        assert p.bound is not None
    assert p.bound is None or p.bound >= want - 1e-6
    assert _children() == []


def test_a_failed_child_is_named_and_the_warm_start_kept(monkeypatch) -> None:
    monkeypatch.setattr(Child, "command", (sys.executable, "-c", "import sys; sys.exit(3)"))
    inst = random_instance(4, seed=8, T=6)
    (_, _), st = _optimum(inst)
    q0 = np.ones(inst.n, dtype=int)
    p = get_method("mip")(inst, _request(5.0, start=q0.tolist(), isolate="true"))
    assert "the HiGHS process failed" in p.message and "exit status 3" in p.message
    assert p.status == "feasible"
    assert p.objective == pytest.approx(saa(inst, st, p.stock), abs=1e-9)
    assert p.objective >= saa(inst, st, q0) - 1e-9


def test_a_child_exits_when_its_caller_goes_away(monkeypatch) -> None:
    monkeypatch.setenv("PYTHONPATH", HERE)
    child = Child("isolate_targets:hang", None)
    time.sleep(0.5)
    assert child.proc.poll() is None
    child.outbox.put(None)  # the writer stops and closes nothing: close stdin as a dying caller
    child.writer.join(timeout=5)
    child.proc.stdin.close()
    assert child.proc.wait(timeout=10) == 0
    child.close()
    assert child.error is None


def test_isolate_auto_takes_large_time_limited_solves_only(monkeypatch) -> None:
    inst = random_instance(3, seed=9, T=5)
    small = get_method("mip")(inst, _request(30.0, start="none"))
    assert small.extra["isolated"] is False  # far below ISOLATE_ENTRIES
    monkeypatch.setattr(mip_module, "ISOLATE_ENTRIES", 0)
    big = get_method("mip")(inst, _request(30.0, start="none"))
    assert big.extra["isolated"] is True
    unlimited = get_method("mip")(inst, _request(None, start="none"))
    assert unlimited.extra["isolated"] is False
    assert big.objective == pytest.approx(small.objective, abs=1e-9)
    assert unlimited.objective == pytest.approx(small.objective, abs=1e-9)


def test_bnb_refuses_isolate() -> None:
    from assortopt.exceptions import OptionError

    inst = random_instance(3, seed=1, T=5)
    req = PlanRequest(scenarios=5, seed=1, params={"formulation": "bnb", "isolate": "true"})
    with pytest.raises(OptionError, match="formulation=bnb does not take isolate"):
        get_method("mip")(inst, req)
