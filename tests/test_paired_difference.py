"""`assortopt.simulation.paired_difference`, the one paired difference of the package (the bench
gaps use it too): closed forms for one and two replications."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from assortopt.instance import load_instance
from assortopt.simulation import paired_difference, simulate

TINY = Path(__file__).resolve().parents[1] / "instances" / "tiny-sparse-n4-t8.json"


def test_one_replication_has_no_standard_error():
    inst = load_instance(TINY)
    a = simulate(inst, np.full(inst.n, 2), reps=1, seed=4)
    b = simulate(inst, np.zeros(inst.n, np.int64), reps=1, seed=4)
    d, se = paired_difference(a, b)
    assert d == pytest.approx(a.profits[0] - b.profits[0])
    assert math.isnan(se)  # one paired sample says nothing about the spread


def test_two_replications_closed_form():
    inst = load_instance(TINY)
    a = simulate(inst, np.full(inst.n, 2), reps=2, seed=4)
    b = simulate(inst, np.ones(inst.n, np.int64), reps=2, seed=4)
    d1, d2 = a.profits - b.profits
    d, se = paired_difference(a, b)
    # sample sd of two values is |d1 − d2| / √2; divided by √2 again: |d1 − d2| / 2
    assert d == pytest.approx((d1 + d2) / 2)
    assert se == pytest.approx(abs(d1 - d2) / 2)
