"""The fit report (a JSON-ready dict), its one-screen summary, and fit-quality measures.

Log-likelihoods are averages per visit (the comparison measure of Berbeglia, Garassino &
Vulcano), in sample and on held-out visits, for the fitted chain, MNL and independent demand.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from ..choice.mc import chain_probabilities
from ..instance import Instance
from .data import SalesData
from .em import ChainParams, EMResult

__all__ = ["build_report", "summary", "soft_rmse"]

TOP_FLOWS = 10


def _avg(ll: float | None, data: SalesData | None) -> float | None:
    if ll is None or data is None or data.n_visits <= 0:
        return None
    return float(ll / data.n_visits)


def build_report(
    data: SalesData,
    held: SalesData | None,
    res: EMResult,
    independent: ChainParams,
    u: np.ndarray,
    pattern: sp.csr_array,
    *,
    lam0_source: str,
    shrinkage: float = 0.0,
    mnl_ll: tuple[float, float | None],
    ind_ll: tuple[float, float | None],
    mc_held: float | None,
) -> dict[str, Any]:
    """The report dict: data sizes, EM run, log-likelihoods, unidentified rows, top flows."""
    ids = data.ids
    p = res.params
    never_out = ~data.ever_unavailable()
    rho = p.rho().tocoo()
    flow = p.arrival[rho.row] * rho.data  # share of customers who first want i and move to k
    top = np.argsort(-flow, kind="stable")[:TOP_FLOWS]
    return {
        "format": "assortopt-fit-report/1",
        "data": data.source,
        "products": data.n,
        "visits": data.n_visits,
        "offer_sets": data.n_groups,
        "holdout_visits": held.n_visits if held is not None else 0.0,
        "no_purchase_share": float(data.sales()[-1] / max(data.n_visits, 1e-300)),
        "lambda0_from": lam0_source,
        "lambda0": p.lam0,
        "support": int(pattern.nnz),
        "shrinkage": {"kappa": shrinkage, "target": "mnl-implied rows"},
        "iterations": res.iterations,
        "seconds": res.seconds,
        "converged": res.converged,
        "stopped": res.stopped,
        "loglik": {
            "markov_chain": {
                "in_sample": _avg(res.loglik, data),
                "holdout": _avg(mc_held, held),
            },
            "mnl": {"in_sample": _avg(mnl_ll[0], data), "holdout": _avg(mnl_ll[1], held)},
            "independent": {
                "in_sample": _avg(ind_ll[0], data),
                "holdout": _avg(ind_ll[1], held),
            },
        },
        "not_identified": [
            {"id": ids[i], "shrinkage": "mnl-implied row (never unavailable in the data)"}
            for i in np.flatnonzero(never_out).tolist()
        ],
        "top_flows": [
            {
                "from": ids[rho.row[e]],
                "to": ids[rho.col[e]],
                "prob": float(rho.data[e]),
                "flow": float(flow[e]),
            }
            for e in top.tolist()
        ],
        "mnl_utilities": u.tolist() if len(u) <= 200 else None,
    }


def summary(report: dict[str, Any]) -> str:
    """A one-screen text summary of a fit report."""
    ll = report["loglik"]
    fmt = lambda x: "-" if x is None else f"{x:.5f}"  # noqa: E731
    lines = [
        f"fit {report['data']}: {report['products']} products, {report['visits']:g} visits in "
        f"{report['offer_sets']} offer sets ({report['holdout_visits']:g} held out)",
        f"EM: {report['iterations']} E-steps, {report['seconds']:.2f} s, stopped on "
        f"{report['stopped']}; support {report['support']} pairs, shrinkage "
        f"{report['shrinkage']['kappa']:g} visits/row; lambda0 = "
        f"{report['lambda0']:.4f} (from {report['lambda0_from']})",
        "log-likelihood per visit   in sample   held out",
    ]
    for key, label in (
        ("markov_chain", "Markov chain"),
        ("mnl", "MNL"),
        ("independent", "independent"),
    ):
        lines.append(f"  {label:<24}{fmt(ll[key]['in_sample']):>10}{fmt(ll[key]['holdout']):>11}")
    ni = report["not_identified"]
    if ni:
        names = ", ".join(x["id"] for x in ni[:8]) + (" …" if len(ni) > 8 else "")
        lines.append(
            f"rows not identified (never unavailable; MNL-implied row used): {len(ni)}: {names}"
        )
    if report["top_flows"]:
        lines.append("largest substitution flows (lambda_i * rho_ik):")
        for f in report["top_flows"][:5]:
            lines.append(f"  {f['from']} -> {f['to']}: rho {f['prob']:.3f}, flow {f['flow']:.4f}")
    return "\n".join(lines)


def soft_rmse(fitted: Instance, truth: Instance, offer_sets: np.ndarray) -> float:
    """Root mean squared difference of choice probabilities (products of S and no purchase)
    between two chains over the given offer sets (rows of a bool matrix)."""
    sq, cnt = 0.0, 0
    for s in np.asarray(offer_sets, dtype=bool):
        pa, _, a0 = chain_probabilities(fitted.arrival, fitted.transitions, s)
        pb, _, b0 = chain_probabilities(truth.arrival, truth.transitions, s)
        sq += float(((pa[s] - pb[s]) ** 2).sum() + (a0 - b0) ** 2)
        cnt += int(s.sum()) + 1
    return float(np.sqrt(sq / max(cnt, 1)))
