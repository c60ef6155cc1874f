"""Fuzz: instance families × methods × time limits × constraint sets × malformed CLI options.

Seeded (``derandomize=True``) and bounded so that it adds seconds, not minutes, to the suite;
``ASSORTOPT_FUZZ_EXAMPLES=500 pytest tests/test_fuzz.py`` runs the longer profile by hand.
Each case checks the contract (README.md, "Solution file" and "Time limits"): a status the
model allows, the time bound L + max(0.1·L, 2 s) (plus `SLACK` for a loaded test machine), every
constraint respected, no stock under ``error``/``infeasible``, a plan with ``feasible`` or better
never worse in-sample than its warm start, and the same file twice from the same seed.
"""

from __future__ import annotations

import contextlib
import io
import os
import time

import numpy as np
from factories import random_instance
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assortopt.cli import main
from assortopt.methods.base import PlanRequest, get_method, list_methods
from assortopt.solver import SolverOptions
from assortopt.solver.status import FEASIBLE, OPTIMAL, STATUSES, check, holds_plan

EXAMPLES = int(os.environ.get("ASSORTOPT_FUZZ_EXAMPLES", "10"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
#: extra seconds allowed on top of the time rule: the suite shares 2 cores with other work
SLACK = 1.0
METHODS = sorted(list_methods())
LIMITS = [None, 0.001, 0.01, 0.1, 2.0]


@st.composite
def cases(draw):
    n = draw(st.integers(2, 6))
    seed = draw(st.integers(0, 2**16))
    T = draw(st.sampled_from([1, 5, 20]))
    fixed = draw(st.booleans())
    poisson = draw(st.booleans())
    inst = random_instance(n, seed, T=T, fixed=fixed, poisson=poisson)
    kind = draw(st.sampled_from(["none", "max_products", "budget", "both"]))
    if kind in ("max_products", "both"):
        inst = inst.replace(max_products=draw(st.integers(0, n)))
    if kind in ("budget", "both"):
        share = draw(st.sampled_from([0.0, 0.05, 0.3, 1.0]))
        inst = inst.replace(budget=round(share * float(inst.cost.sum()) * T * 0.5, 2))
    method = draw(st.sampled_from(METHODS))
    limit = draw(st.sampled_from(LIMITS))
    return inst, method, limit


def _plan(inst, method, limit, seed=3):
    req = PlanRequest(scenarios=10, seed=seed, options=SolverOptions(time_limit=limit))
    t0 = time.perf_counter()
    plan = get_method(method)(inst, req)
    return plan, time.perf_counter() - t0


@FUZZ
@given(cases())
def test_methods_keep_the_contract(case):
    inst, method, limit = case
    plan, wall = _plan(inst, method, limit)
    assert plan.status in STATUSES
    check(plan.status, plan.termination)
    if limit is not None:
        assert wall <= limit + max(0.1 * limit, 2.0) + SLACK, (method, limit, wall)
    q = np.asarray(plan.stock)
    assert q.shape == (inst.n,) and (q >= 0).all()
    if not holds_plan(plan.status):
        assert q.sum() == 0, plan
        return
    if inst.max_products is not None:
        assert int((q > 0).sum()) <= inst.max_products, (method, plan.message)
    if inst.budget is not None:
        assert float(inst.cost @ q) <= inst.budget * (1 + 1e-9) + 1e-9, (method, plan.message)
    start = plan.extra.get("start_objective")
    if plan.status in (FEASIBLE, OPTIMAL) and start is not None and plan.objective is not None:
        assert plan.objective >= start - 1e-6 * max(1.0, abs(start)), (method, plan.extra)
    if limit is None:  # without a clock, the same seed gives the same plan
        again, _ = _plan(inst, method, limit)
        assert np.array_equal(again.stock, q) and again.status == plan.status


BAD_OPTIONS = [
    ("--seed", ["-1", "-7"]),
    ("--scenarios", ["0", "-3"]),
    ("--time-limit", ["0", "-1", "nan", "inf"]),
    ("--mip-gap", ["1", "-0.1", "2"]),
    ("--threads", ["0"]),
    ("--eval-reps", ["-1"]),
]
HEURISTIC_KEYS = list(get_method("heuristic").accepted_params)
BAD_VALUES = ["abc", "-1", "nan", "maybe", "[1, 2]"]


@st.composite
def bad_argv(draw):
    if draw(st.booleans()):
        flag, values = draw(st.sampled_from(BAD_OPTIONS))
        return [flag, draw(st.sampled_from(values))], flag
    key = draw(st.sampled_from(HEURISTIC_KEYS))
    return ["--param", f"{key}={draw(st.sampled_from(BAD_VALUES))}"], key


@FUZZ
@given(bad_argv())
def test_malformed_options_are_one_line_exit_2_and_write_nothing(tmp_path_factory, bad):
    argv, named = bad
    out = tmp_path_factory.mktemp("fuzz") / "sol.json"
    from pathlib import Path

    inst = str(Path(__file__).resolve().parents[1] / "instances" / "chocolate.json")
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = main(["solve", inst, "-o", str(out), *argv])
    lines = err.getvalue().strip().splitlines()
    assert rc == 2 and len(lines) == 1, (argv, err.getvalue())
    assert named.lstrip("-") in lines[0].replace("_", "-") or named in lines[0], lines[0]
    assert not out.exists()
