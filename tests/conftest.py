"""Shared, named test fixtures: tiny instances everyone can reason about by hand.

Each fixture is session-scoped (instances are immutable); derive variants with ``.replace(...)``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from assortopt.instance import Instance, load_instance

ROOT = Path(__file__).resolve().parents[1]
INSTANCES_DIR = ROOT / "instances"
DATA_DIR = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def chocolate_path() -> Path:
    """Path of the shipped quick-start file instances/chocolate.json."""
    return INSTANCES_DIR / "chocolate.json"


@pytest.fixture(scope="session")
def chocolate(chocolate_path: Path) -> Instance:
    """The quick-start instance: 90/80/70% cocoa bars, 100 customers, max 2 products, budget 400."""
    return load_instance(chocolate_path)


@pytest.fixture(scope="session")
def tiny3() -> Instance:
    """Three products in a cycle a→b→c→a, 6 customers, salvage on b, fixed cost on c (DP-sized)."""
    rho = sp.csr_array(([0.5, 0.4, 0.3], ([0, 1, 2], [1, 2, 0])), shape=(3, 3))
    return Instance(
        ids=("a", "b", "c"),
        price=np.array([5.0, 4.0, 3.0]),
        cost=np.array([2.0, 2.0, 1.0]),
        arrival=np.array([0.4, 0.3, 0.2]),
        transitions=rho,
        customers_mean=6,
        salvage=np.array([0.0, 1.0, 0.0]),
        fixed_cost=np.array([0.0, 0.0, 1.0]),
        name="tiny3",
    )
