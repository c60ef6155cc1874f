"""Fit the Markov chain choice model from sales records (``assortopt fit``; ``models/fit.md``).

`read_sales` turns a sessions CSV, a periods CSV or a python_choice_models transaction file into
`SalesData` (visits grouped by offer set); `fit_markov_chain` fits the chain by grouped exact EM
(SQUAREM-accelerated, warm-started from MNL) and returns an `Instance` and a fit report.
"""

from __future__ import annotations

from .chain import fit_markov_chain
from .data import SalesData, read_sales
from .report import soft_rmse, summary
from .synthetic import sample_sales

__all__ = [
    "SalesData",
    "fit_markov_chain",
    "read_sales",
    "sample_sales",
    "soft_rmse",
    "summary",
]
