"""The SAA-LP with fluid spill (models/saa_lp.md): builder and a fast exact solver.

For scenarios k = 1..K with first-choice counts d_ki on a product set S (`scenario_data`), stock
q_i ≥ 0 (first stage), sales s_ki ≥ 0 and spill u_ki ≥ 0 (second stage):

    max (1/K) Σ_k Σ_i (r_i − v_i) s_ki − Σ_i (c_i − v_i) q_i
    s.t. s_ki + u_ki − Σ_j ρ̃_ji u_kj = d_ki     (balance)
         s_ki − q_i ≤ 0                          (capacity)
         Σ_i c_i q_i ≤ W                         (budget, when the instance has one)

ρ̃ is the reduced chain on S (the exact stochastic complement), or the full ρ when S is everything.
The write-up, with the relaxation caveat, is ``models/saa_lp.md``.

Solving at catalogue scale (`solve_saa_lp`): a monolithic simplex solve is slow because the
spill rows of one scenario form a random sparse graph whose LU factors fill in, and the reduced
chain on a large S is dense. The default on a pooled set S ⊊ N is the L-shaped decomposition of
`assortopt.models.saa_decomposition` (scenario LPs by mat-vecs with an optimality certificate,
a trust-region multi-cut master), optimal to a stated relative gap; over all of N the sparse
monolithic solve is used. *Product generation* (solve with stock allowed on a small S' ⊆ S, price
out the rest through the chain) is kept as an option: exact, but slower on heavy-tailed
instances where the optimal support is most of S*. Figures in models/saa_lp.md.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ..choice.mc import drop_self_loops
from ..exceptions import OptionError
from ..instance import Instance
from ..solver import SolverOptions, highs_from_lp, time_left
from ..solver.highs import outcome, run
from ..solver.linear import LinearProgram, LPBuilder
from ..solver.status import ERROR, OPTIMAL, Termination
from .formulation import Formulation
from .scenario_data import offered_positions


# ----------------------------------------------------------------------------- chains
@dataclass
class _Complement:
    """The chain on ``keep`` nodes with every other node passed through (stochastic complement).

    ``h[p, j]`` = probability that a walk starting at pass node p is absorbed at keep node j,
    ``h = (I − R_PP)^{-1} R_PK``; ``chain`` = ``R_KK + R_KP h`` with self-loops removed.
    """

    keep: np.ndarray  # chain node indices kept (sorted)
    pas: np.ndarray  # the other chain nodes
    h: np.ndarray  # (|P|, |K|) dense
    chain: sp.csr_array  # (|K|, |K|)

    @staticmethod
    def of(r: sp.csr_array, keep_mask: np.ndarray) -> _Complement:
        keep = np.flatnonzero(keep_mask)
        pas = np.flatnonzero(~keep_mask)
        r_kk = r[keep][:, keep]
        if len(pas) == 0:
            return _Complement(keep, pas, np.zeros((0, len(keep))), drop_self_loops(r_kk))
        r_pp = r[pas][:, pas]
        r_pk = r[pas][:, keep]
        lu = spla.splu(sp.csc_matrix(sp.eye(len(pas)) - r_pp))
        h = lu.solve(np.asarray(r_pk.toarray(), dtype=np.float64))
        h = np.where(h > 1e-15, h, 0.0)
        full = r_kk.toarray() + r[keep][:, pas] @ h
        return _Complement(keep, pas, h, drop_self_loops(sp.csr_array(full)))


# ----------------------------------------------------------------------------- builder
def _assemble(
    chain: sp.csr_array,
    sell: np.ndarray,
    counts: np.ndarray,
    rev: np.ndarray,
    unit_cost: np.ndarray,
    buy_cost: np.ndarray,
    budget: float | None,
    stock_labels: list[str],
    node_labels: list[str],
) -> LPBuilder:
    """The SAA-LP arrays on a chain whose nodes ``sell`` may hold stock (others only spill).

    ``counts`` (K, n_nodes); ``rev`` = r − v, ``unit_cost`` = c − v and ``buy_cost`` = c on the
    sellable nodes (in ``sell`` order).
    """
    n_nodes = chain.shape[0]
    k_count = counts.shape[0]
    m = len(sell)
    b = LPBuilder("max")
    q = b.add_vars("stock", np.ones(m, bool), [stock_labels], cost=-unit_cost)
    s = b.add_vars(
        "sales",
        np.ones((k_count, m), bool),
        [range(k_count), stock_labels],
        cost=np.broadcast_to(rev / k_count, (k_count, m)),
    )
    u = b.add_vars("spill", np.ones((k_count, n_nodes), bool), [range(k_count), node_labels])
    coo = sp.coo_array(chain)
    kk = np.arange(k_count, dtype=np.int64)[:, None]
    r_s = (kk * n_nodes + sell[None, :]).ravel()
    r_u = (kk * n_nodes + np.arange(n_nodes)[None, :]).ravel()
    r_t = (kk * n_nodes + coo.col[None, :]).ravel()
    c_t = u[:, coo.row].ravel()
    v_t = -np.broadcast_to(coo.data, (k_count, coo.nnz)).ravel()
    rhs = np.asarray(counts, dtype=np.float64).ravel()
    b.add_rows(
        "balance",
        k_count * n_nodes,
        np.concatenate([r_s, r_u, r_t]),
        np.concatenate([s.ravel(), u.ravel(), c_t]),
        np.concatenate([np.ones(len(r_s) + len(r_u)), v_t]),
        lo=rhs,
        hi=rhs,
    )
    rr = np.arange(k_count * m, dtype=np.int64)
    b.add_rows(
        "capacity",
        k_count * m,
        np.concatenate([rr, rr]),
        np.concatenate([s.ravel(), np.tile(q, k_count)]),
        np.concatenate([np.ones(k_count * m), -np.ones(k_count * m)]),
        hi=0.0,
    )
    if budget is not None:
        b.add_rows("budget", 1, np.zeros(m, np.int64), q, buy_cost, hi=float(budget))
    return b


def _check_counts(counts: Any, k_cols: int) -> np.ndarray:
    d = np.asarray(counts, dtype=np.float64)
    if d.ndim != 2 or d.shape[1] != k_cols:
        raise ValueError(f"counts must have shape (K, {k_cols}), got {d.shape}")
    if d.shape[0] < 1 or np.any(d < 0) or not np.all(np.isfinite(d)):
        raise ValueError("counts must be finite and >= 0, with at least one scenario")
    return d


def build_saa_lp(
    inst: Instance,
    counts: np.ndarray,
    offered_mask: np.ndarray | None = None,
    rho: sp.csr_array | None = None,
    chain: str = "reduced",
) -> Formulation:
    """Build the SAA-LP on S (``offered_mask``; None = every product).

    Parameters
    ----------
    inst
        The instance (prices, costs, salvage, budget).
    counts
        (K, |S|) first-choice counts on S, in position order (`first_choice_counts`).
    offered_mask
        Bool mask of S. Products outside S get no stock.
    rho
        The |S|×|S| chain to use on S. Default: the full ρ when S is everything, else the reduced
        chain `assortopt.choice.mc.reduced_chain` (dense when S is large).
    chain
        ``"reduced"`` (default; the paper's form) or ``"full"``: keep every product as a node and
        let products outside S only pass customers on (same optimum, sparse; spill variables on
        all N). Ignored when ``rho`` is given or S is everything.

    Returns a `Formulation` with blocks ``stock`` (info["products"] = positions of S), ``sales``
    (scenario, id), ``spill`` (scenario, node id) and rows ``balance``, ``capacity``, ``budget``.
    Fixed costs and ``max_products`` are not modelled (an LP cannot); see `build_spill_mip`.
    Units: stock and sales in units (fractional), the objective in currency per season
    (average over the K scenarios of revenue + salvage − purchase cost).

    Raises
    ------
    ValueError
        ``counts`` not (K, |S|), negative or not finite; ``rho`` of the wrong shape; unknown
        ``chain``.
    """
    pos = offered_positions(inst.n, offered_mask)
    d = _check_counts(counts, len(pos))
    ids = list(inst.ids)
    sel_ids = [ids[i] for i in pos]
    if rho is not None:
        r = drop_self_loops(sp.csr_array(rho))
        if r.shape != (len(pos), len(pos)):
            raise ValueError(f"rho must be {len(pos)}x{len(pos)}, got {r.shape}")
        sell, dn, labels, kind = np.arange(len(pos)), d, sel_ids, "given"
    elif len(pos) == inst.n:
        r = drop_self_loops(inst.transitions)
        sell, dn, labels, kind = np.arange(inst.n), d, ids, "full"
    elif chain == "full":
        r = drop_self_loops(inst.transitions)
        dn = np.zeros((d.shape[0], inst.n))
        dn[:, pos] = d
        sell, labels, kind = pos, ids, "full-pass-through"
    elif chain == "reduced":
        from ..choice.mc import reduced_chain

        mask = np.zeros(inst.n, bool)
        mask[pos] = True
        r = drop_self_loops(sp.csr_array(reduced_chain(inst, mask)[1]))
        sell, dn, labels, kind = np.arange(len(pos)), d, sel_ids, "reduced"
    else:
        raise ValueError(f"chain must be 'reduced' or 'full', got {chain!r}")
    rev = (inst.price - inst.salvage)[pos]
    ucost = (inst.cost - inst.salvage)[pos]
    b = _assemble(r, sell, dn, rev, ucost, inst.cost[pos], inst.budget, sel_ids, labels)
    return Formulation(
        "saa_lp",
        b.build(),
        b.var_blocks,
        b.row_blocks,
        info={"products": pos, "scenarios": d.shape[0], "chain": kind},
    )


# ----------------------------------------------------------------------------- solver
@dataclass
class SAALPResult:
    """The SAA-LP optimum.

    Attributes
    ----------
    stock_frac
        (N,) optimal fractional stock (0 outside S).
    objective
        Optimal value: average second-stage revenue minus purchase cost (salvage included).
    time_s
        Wall time of the solve.
    method
        ``"monolithic"`` or ``"generation"``.
    iterations
        Total simplex iterations.
    status, termination
        ``status`` is ``"optimal"``, or ``"error"`` (then ``message`` says why and
        ``termination`` why it stopped, e.g. ``time_limit``; values may be None/partial).
    rounds
        Generation rounds (1 for a monolithic solve).
    support
        Positions of products allowed stock in the final master (generation) or S (monolithic).
    sales
        (K, |S|) optimal sales (columns in S position order), when available.
    """

    stock_frac: np.ndarray
    objective: float
    time_s: float
    method: str
    iterations: int
    status: str = OPTIMAL
    rounds: int = 1
    support: np.ndarray | None = None
    sales: np.ndarray | None = None
    message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    termination: Termination = Termination.OPTIMAL


#: Building the LP's arrays and loading them into HiGHS cost about this many times the array
#: build (the monolithic SAA-LP at N = 1,000, K = 100: build 18.8 s, load 6 s on a sparse
#: chain; on the dense chain of a 1,000-product latent-class model build 18.1 s, load 27.7 s).
LOAD_FACTOR = 2.5


#: The monolithic SAA-LP is refused when its priced build and load exceed this share of the
#: time left: the simplex needs time after them, and neither can be interrupted. At a 60 s limit
#: on the dense chains of 1,000-product random-utility models a build and load priced within
#: the limit took 46 s at load 3 and ran to 102-163 s at load 3-6, without a solution.
BUILD_SHARE = 0.5


#: HiGHS's presolve of the monolithic SAA-LP (its dependent-equations search cannot be
#: interrupted) takes about this many times the LP's array build: 85 s after an 18.8 s build at
#: N = 1,000, K = 100 (10^8 nonzeros), where the run then ended 57 s past a 60 s limit.
PRESOLVE_FACTOR = 4.5


def _presolve_fits(build_s: float, options: SolverOptions) -> bool:
    """Whether HiGHS may presolve: not when its presolve, priced from the build time, would
    outlast the time left (then the simplex starts at once, and the deadline can stop it). A
    presolve setting of the caller's own is kept."""
    if options.time_limit is None or "presolve" in options.highs:
        return True
    return PRESOLVE_FACTOR * build_s <= options.time_limit


def _monolithic_seconds(
    inst: Instance, d: np.ndarray, offered_mask: np.ndarray | None, options: SolverOptions
) -> float | None:
    """Seconds the monolithic SAA-LP would take to build and load, from a probe build of one
    scenario (the model grows linearly in K), or None without a time limit or for one scenario.
    A model HiGHS cannot be asked to load in the time left is refused before it is built: the
    build and the load cannot be interrupted (README, "Time limits")."""
    if options.time_limit is None or d.shape[0] < 2:
        return None
    t = time.perf_counter()
    build_saa_lp(inst, d[:1], offered_mask, chain="full")
    return (time.perf_counter() - t) * d.shape[0] * LOAD_FACTOR


def _run(lp: LinearProgram, options: SolverOptions) -> tuple[Any, Termination, str]:
    """Solve ``lp``; (HiGHS, termination, message), termination ``optimal`` only at an optimum."""
    t0 = time.perf_counter()
    h = highs_from_lp(lp, options)
    run(h, options, since=t0)
    status, term, msg = outcome(h)
    if status != OPTIMAL and not msg:
        msg = f"HiGHS: {h.modelStatusToString(h.getModelStatus())}"
    return h, term, msg


def solve_saa_lp(
    inst: Instance,
    counts: np.ndarray,
    offered_mask: np.ndarray | None = None,
    options: SolverOptions | None = None,
    method: str = "auto",
    initial: np.ndarray | None = None,
    tol: float = 1e-4,
    exact: Any = None,
    max_iter: int = 500,
    committed: np.ndarray | None = None,
) -> SAALPResult:
    """Solve the SAA-LP exactly; fast at catalogue scale.

    Parameters
    ----------
    inst, counts, offered_mask
        As in `build_saa_lp` (counts are on S, in position order).
    options
        HiGHS control (time limit per LP solve, threads, verbosity); simplex is used.
    method
        ``"decomposition"`` (L-shaped with a trust region and mat-vec scenario oracles,
        `assortopt.models.saa_decomposition`; optimal to relative gap ``tol``), ``"monolithic"``
        (HiGHS on `build_saa_lp` with ``chain="full"``: sparse), ``"generation"`` (product
        generation) or ``"auto"``: decomposition when S is a strict subset of the products (the
        pooled sets the heuristic uses; measured fastest), monolithic when S is everything.
    initial
        Optional bool mask (length N) of products to start generation with (default: products a
        pooled newsvendor on ``counts`` would stock).
    tol
        Relative optimality gap of ``"decomposition"`` (upper bound − value) / max(1, |value|);
        the bound and gap are in ``extra``. The other methods solve to HiGHS's tolerances.
    exact, max_iter
        ``"decomposition"`` only: the `~assortopt.models.saa_decomposition.ExactScenarios` that
        solves scenario LPs (default in process; `assortopt.mpi` spreads them over ranks) and
        the iteration limit.
    committed
        Optional commitment (length N, ``-1`` free, ``u >= 0`` units; `assortopt.commitment`):
        committed products of S have their stock fixed at their units, in the decomposition as
        in the monolithic LP (`fix_committed`); the same optimum either way (models/saa_lp.md).
        Not with ``"generation"``.

    Raises ``ValueError`` for malformed counts, an unknown method, a commitment with
    ``"generation"``; `OptionError` for a product committed at units > 0 outside S.
    """
    t0 = time.perf_counter()
    options = options or SolverOptions()
    if options.lp_method != "simplex":
        options = SolverOptions(
            time_limit=options.time_limit,
            threads=options.threads,
            verbose=options.verbose,
            highs=options.highs,
        )
    pos = offered_positions(inst.n, offered_mask)
    d = _check_counts(counts, len(pos))
    if method == "auto":
        # the decomposition's mat-vec oracle is exact when selling first is optimal, which holds
        # on a pooled set (S*, or a subset); over all of N it falls back to slow exact scenario
        # solves, so the whole catalogue goes to the monolithic solve (models/saa_lp.md)
        method = "decomposition" if len(pos) < inst.n else "monolithic"
    fixed = None
    if committed is not None:
        committed = np.asarray(committed, dtype=np.int64)
        outside = np.ones(inst.n, bool)
        outside[pos] = False
        if np.any(outside & (committed > 0)):
            i = int(np.flatnonzero(outside & (committed > 0))[0])
            raise OptionError(f"SAA-LP: committed product at position {i} is not in S")
        c_s = committed[pos]
        fixed = np.where(c_s >= 0, c_s, np.nan).astype(np.float64)
    if method == "decomposition":
        return _decomposition(inst, d, pos, options, tol, t0, exact, max_iter, fixed)
    if method == "monolithic":
        need = _monolithic_seconds(inst, d, offered_mask, options)
        left = time_left(options, t0).time_limit
        if need is not None and left is not None and need > BUILD_SHARE * left:
            return SAALPResult(
                stock_frac=np.zeros(inst.n),
                objective=-np.inf,
                time_s=time.perf_counter() - t0,
                method="monolithic",
                iterations=0,
                status=ERROR,
                support=pos,
                message=(
                    f"building and loading the LP over {len(pos)} products and "
                    f"{d.shape[0]} scenarios would take about {need:.1f} s, more than half "
                    f"the {left:.1f} s left"
                ),
                termination=Termination.TIME_LIMIT,
            )
        t_build = time.perf_counter()
        f = build_saa_lp(inst, d, offered_mask, chain="full")
        if committed is not None:
            from .committed import fix_committed

            fix_committed(f, committed)
        run_opts = time_left(options, t0)  # the build counts too
        presolve = _presolve_fits(time.perf_counter() - t_build, run_opts)
        if not presolve:
            run_opts = dataclasses.replace(run_opts, highs={**run_opts.highs, "presolve": "off"})
        h, term, msg = _run(f.lp, run_opts)
        x = np.asarray(h.getSolution().col_value)
        q = np.zeros(inst.n)
        q[pos] = f.var_blocks["stock"].values(x)
        obj = float(h.getInfo().objective_function_value)
        return SAALPResult(
            stock_frac=np.maximum(q, 0.0),
            objective=obj,
            time_s=time.perf_counter() - t0,
            method="monolithic",
            iterations=int(h.getInfo().simplex_iteration_count),
            status=OPTIMAL if term is Termination.OPTIMAL else ERROR,
            support=pos,
            sales=f.var_blocks["sales"].values(x),
            message=msg,
            termination=term,
            extra={} if presolve else {"presolve": "off (it would outlast the time left)"},
        )
    if method != "generation":
        raise ValueError(f"unknown SAA-LP method {method!r}")
    if committed is not None:
        raise ValueError("SAA-LP generation does not take a commitment")
    return _generation(inst, d, pos, options, initial, t0)


def decomposition_chain(inst: Instance, pos: np.ndarray) -> tuple[sp.csr_array, np.ndarray]:
    """The chain on S (self-loops removed; the reduced chain when S ⊊ N) and the margins r − v
    on S: what the decomposition's scenario LPs are built from (also on every MPI rank)."""
    r = drop_self_loops(inst.transitions)
    if len(pos) < inst.n:
        from ..choice.mc import reduced_chain

        mask = np.zeros(inst.n, bool)
        mask[pos] = True
        r = sp.csr_array(reduced_chain(inst, mask)[1])  # batched solves: 3 s at N = 10,000
    return r, (inst.price - inst.salvage)[pos]


def _decomposition(
    inst: Instance,
    d: np.ndarray,
    pos: np.ndarray,
    options: SolverOptions,
    tol: float,
    t0: float,
    exact: Any = None,
    max_iter: int = 500,
    fixed: np.ndarray | None = None,
) -> SAALPResult:
    from .saa_decomposition import benders

    if len(pos) == 0:
        return SAALPResult(
            np.zeros(inst.n),
            0.0,
            time.perf_counter() - t0,
            "decomposition",
            0,
            support=pos,
            sales=np.zeros((d.shape[0], 0)),
            extra={"bound": 0.0, "gap": 0.0},
        )
    chain, rev = decomposition_chain(inst, pos)
    deadline = None if options.time_limit is None else t0 + options.time_limit
    q, obj, sales, st, status = benders(
        chain,
        d,
        rev,
        (inst.cost - inst.salvage)[pos],
        inst.cost[pos],
        inst.budget,
        options,
        tol=tol,
        deadline=deadline,
        exact=exact,
        max_iter=max_iter,
        fixed=fixed,
    )
    stock = np.zeros(inst.n)
    stock[pos] = q
    gap = (st.upper - st.lower) / max(1.0, abs(st.lower)) if np.isfinite(st.lower) else np.inf
    return SAALPResult(
        stock_frac=stock,
        objective=obj,
        time_s=time.perf_counter() - t0,
        method="decomposition",
        iterations=st.iterations,
        status=OPTIMAL if status is Termination.OPTIMAL else ERROR,
        rounds=st.iterations,
        support=pos,
        sales=sales,
        message=(
            ""
            if status is Termination.OPTIMAL
            else f"decomposition: {st.message or status.value}, gap {gap:.2e}"
        ),
        extra={"bound": st.upper, "gap": gap, "stats": st},
        termination=status,
    )


def _newsvendor_start(d: np.ndarray, rev: np.ndarray, ucost: np.ndarray) -> np.ndarray:
    """Products whose own counts justify a unit in a newsvendor sense: P(D = 0) < critical ratio."""
    crit = np.where(rev > 0, (rev - ucost) / np.maximum(rev, 1e-300), 0.0)
    return ((d > 0).mean(axis=0) > 1.0 - crit) & (crit > 0)


def _generation(
    inst: Instance,
    d: np.ndarray,
    pos: np.ndarray,
    options: SolverOptions,
    initial: np.ndarray | None,
    t0: float,
) -> SAALPResult:
    n = inst.n
    k_count = d.shape[0]
    r = drop_self_loops(inst.transitions)
    is_sel = np.zeros(n, bool)
    is_sel[pos] = True
    dn = np.zeros((k_count, n))
    dn[:, pos] = d
    rev_all = inst.price - inst.salvage
    ucost_all = inst.cost - inst.salvage
    # a unit earns at most r − v and costs c − v: never worth it when c ≥ r
    worth = is_sel & (inst.price > inst.cost)
    if initial is not None:
        cur = np.asarray(initial, bool) & worth
    else:
        cur = np.zeros(n, bool)
        cur[pos] = _newsvendor_start(d, rev_all[pos], ucost_all[pos])
        cur &= worth
    if not cur.any() and worth.any():
        best = np.flatnonzero(worth)[
            np.argmax((dn[:, worth].mean(0) + 1e-12) * (inst.price - inst.cost)[worth])
        ]
        cur[best] = True
    iters = 0
    rounds = 0
    tol = 1e-9 * max(1.0, float(rev_all[pos].max()) if len(pos) else 1.0)
    q = np.zeros(n)
    obj = 0.0
    sales_keep = None
    while True:
        rounds += 1
        if not cur.any():
            obj, q = 0.0, np.zeros(n)
            break
        comp = _Complement.of(r, cur)
        keep = comp.keep
        dk = dn[:, keep] + (dn[:, comp.pas] @ comp.h if len(comp.pas) else 0.0)
        labels = [inst.ids[i] for i in keep]
        b = _assemble(
            comp.chain,
            np.arange(len(keep)),
            dk,
            rev_all[keep],
            ucost_all[keep],
            inst.cost[keep],
            inst.budget,
            labels,
            labels,
        )
        lp = b.build()
        h, term, msg = _run(lp, options)
        iters += int(h.getInfo().simplex_iteration_count)
        if term is not Termination.OPTIMAL:
            return SAALPResult(
                stock_frac=q,
                objective=obj,
                time_s=time.perf_counter() - t0,
                method="generation",
                iterations=iters,
                status=ERROR,
                rounds=rounds,
                support=np.flatnonzero(cur),
                message=f"master LP: {msg}",
                termination=term,
            )
        sol = h.getSolution()
        x = np.asarray(sol.col_value)
        obj = float(h.getInfo().objective_function_value)
        q = np.zeros(n)
        q[keep] = np.maximum(b.var_blocks["stock"].values(x), 0.0)
        sales_keep = b.var_blocks["sales"].values(x)
        y = np.asarray(sol.row_dual)
        b0, b1 = b.row_blocks["balance"]
        # HiGHS row duals are d(objective)/d(rhs): a balance dual is the value of one more
        # customer at that node, divided by K (the objective averages over scenarios).
        pi_keep = k_count * y[b0:b1].reshape(k_count, len(keep))
        beta = 0.0
        if "budget" in b.row_blocks:
            beta = max(0.0, float(y[b.row_blocks["budget"][0]]))
        cand = np.flatnonzero(worth & ~cur)
        if len(cand) == 0:
            break
        # value of a customer at a pass node = where the chain absorbs her among kept nodes
        where = np.searchsorted(comp.pas, cand)
        pi_cand = pi_keep @ comp.h[where].T  # (K, |cand|)
        gain = np.maximum(rev_all[cand][None, :] - pi_cand, 0.0).mean(axis=0)
        price = gain - ucost_all[cand] - beta * inst.cost[cand]
        viol = np.flatnonzero(price > tol)
        if len(viol) == 0:
            break
        # add the most attractive products first: the master stays small while the support is
        limit = max(10, len(keep) // 4)
        add = cand[viol[np.argsort(-price[viol])[:limit]]]
        cur[add] = True
    sales = None
    if sales_keep is not None:
        sales = np.zeros((k_count, n))
        sales[:, np.flatnonzero(cur)] = sales_keep
        sales = sales[:, pos]
    return SAALPResult(
        stock_frac=q,
        objective=obj,
        time_s=time.perf_counter() - t0,
        method="generation",
        iterations=iters,
        status=OPTIMAL,
        rounds=rounds,
        support=np.flatnonzero(cur),
        sales=sales,
    )
