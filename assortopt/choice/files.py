"""Choice model files: ``assortopt-choice/1`` and python_choice_models model files.

``assortopt-choice/1`` (utilities are log-scale, the no-purchase option has utility 0)::

    {"format": "assortopt-choice/1", "model": "mnl", "utility": {"p1": 0.4, "p2": -1.1}}
    {"format": "assortopt-choice/1", "model": "latent-class-mnl",
     "classes": [{"weight": 0.6, "utility": {...}}, {"weight": 0.4, "utility": {...}}]}
    {"format": "assortopt-choice/1", "model": "nested-logit", "utility": {...},
     "nests": [{"name": "dark", "dissimilarity": 0.5, "products": ["p1", "p2"]}, ...]}
    {"format": "assortopt-choice/1", "model": "ranked-lists",
     "types": [{"weight": 0.3, "list": ["p2", "p1"]}, {"weight": 0.7, "list": ["p1"]}]}

Rules: class weights ≥ 0 summing to 1 (within 1e-6); every product in every utility map;
dissimilarities in (0, 1]; each product in exactly one nest; type weights ≥ 0 summing to at
most 1; no product twice in a list. python_choice_models files (``"code"``) are read too, product
k ≥ 1 becoming id ``"k"``: ``mnl`` (``etas`` are weights e^{v}, no-purchase weight 1), ``lc``
(``gammas``, ``multi_logit_models``), ``nl`` (``etas`` are weights for products 0..N including
no-purchase, nests with ``lambda``; product 0 must be alone in its nest or in a nest with
λ = 1), ``rl`` (``ranked_lists`` over 0..N, ``betas`` the weights of lists 1..K−1, list 0 gets
the rest; a customer's preference list is what she ranks above 0). The Markov chain forms
(``markov-chain``, python_choice_models ``mkv``) are read by `assortopt.truth.load_choice_model`.

Every problem raises one `InstanceError` naming the file and the field.
"""

from __future__ import annotations

import math
import os
from typing import Any, NoReturn

import numpy as np

from ..exceptions import InstanceError
from ..jsonio import read_json, write_json_atomic
from .latent_class import LatentClassMNL
from .mnl import MNLModel
from .nested import NestedLogit
from .ranked_lists import RankedLists

__all__ = ["FORMAT", "RUM_MODELS", "model_from_dict", "read_model_file", "save_choice_model"]

FORMAT = "assortopt-choice/1"
RUM_MODELS = ("mnl", "latent-class-mnl", "nested-logit", "ranked-lists")
PCM_CODES = ("mnl", "lc", "nl", "rl")
_SUM_TOL = 1e-6


class _Check:
    def __init__(self, source: str | None) -> None:
        self.source = source

    def fail(self, fld: str, msg: str) -> NoReturn:
        raise InstanceError(fld, msg, self.source)

    def obj(self, d: Any, fld: str) -> dict[str, Any]:
        if not isinstance(d, dict):
            self.fail(fld, "must be a JSON object")
        return d

    def seq(self, d: Any, fld: str) -> list[Any]:
        if not isinstance(d, list):
            self.fail(fld, "must be a list")
        return d

    def keys(self, d: dict[str, Any], fld: str, required: tuple, optional: tuple = ()) -> None:
        for k in required:
            if k not in d:
                self.fail(f"{fld}{k}" if fld else k, "missing")
        for k in d:
            if k not in required and k not in optional:
                self.fail(f"{fld}{k}" if fld else k, "unknown key")

    def num(self, x: Any, fld: str) -> float:
        if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
            self.fail(fld, f"must be a finite number, got {x!r}")
        return float(x)

    def pid(self, x: Any, fld: str, known: dict[str, int] | None) -> str:
        if not isinstance(x, str) or not x:
            self.fail(fld, f"must be a product id (non-empty string), got {x!r}")
        if known is not None and x not in known:
            self.fail(fld, f"unknown product {x!r}")
        return x

    def weights(self, w: list[float], fld: str, exact: bool) -> None:
        total = sum(w)
        if exact and abs(total - 1.0) > _SUM_TOL:
            self.fail(fld, f"weights must sum to 1, they sum to {total:.9g}")
        if not exact and total > 1.0 + _SUM_TOL:
            self.fail(fld, f"weights must sum to at most 1, they sum to {total:.9g}")

    def utility_map(
        self, u: Any, fld: str, ids: tuple[str, ...] | None
    ) -> tuple[tuple[str, ...], np.ndarray]:
        u = self.obj(u, fld)
        if ids is None:
            ids = tuple(self.pid(k, f"{fld}.{k}", None) for k in u)
        known = {p: i for i, p in enumerate(ids)}
        vals = np.empty(len(ids))
        for k, x in u.items():
            if k not in known:
                self.fail(f"{fld}.{k}", f"unknown product {k!r}")
            vals[known[k]] = self.num(x, f"{fld}.{k}")
        for p in ids:
            if p not in u:
                self.fail(f"{fld}.{p}", "missing (every product needs a utility)")
        return ids, vals


def model_from_dict(
    d: Any, source: str | None = None, ids: Any = None
) -> MNLModel | LatentClassMNL | NestedLogit | RankedLists:
    """A choice model from a parsed ``assortopt-choice/1`` or python_choice_models dict.

    ``ids`` (e.g. the catalogue's) fixes the products: a product of the model outside ``ids``
    is an unknown product, a product of ``ids`` without a utility a missing utility, and the
    model comes back in the order of ``ids``. Raises `InstanceError` (file, field, problem).
    """
    ck = _Check(source)
    d = ck.obj(d, "")
    ids = None if ids is None else tuple(str(p) for p in ids)
    if "code" in d and "format" not in d:
        return _from_pcm(ck, d, ids)
    if d.get("format", FORMAT) != FORMAT:
        ck.fail("format", f"must be {FORMAT!r}, got {d.get('format')!r}")
    kind = d.get("model")
    if kind == "mnl":
        ck.keys(d, "", ("model", "utility"), ("format", "metadata"))
        got, v = ck.utility_map(d["utility"], "utility", ids)
        return MNLModel(got, v)
    if kind == "latent-class-mnl":
        ck.keys(d, "", ("model", "classes"), ("format", "metadata"))
        classes = ck.seq(d["classes"], "classes")
        if not classes:
            ck.fail("classes", "needs at least one class")
        w, rows = [], []
        for c, cl in enumerate(classes):
            cl = ck.obj(cl, f"classes[{c}]")
            ck.keys(cl, f"classes[{c}].", ("weight", "utility"), ("name",))
            wc = ck.num(cl["weight"], f"classes[{c}].weight")
            if wc < 0:
                ck.fail(f"classes[{c}].weight", f"must be >= 0, got {wc}")
            ids, v = ck.utility_map(cl["utility"], f"classes[{c}].utility", ids)
            w.append(wc)
            rows.append(v)
        ck.weights(w, "classes", exact=True)
        return LatentClassMNL(ids, np.array(w) / sum(w), np.array(rows))
    if kind == "nested-logit":
        ck.keys(d, "", ("model", "utility", "nests"), ("format", "metadata"))
        ids, v = ck.utility_map(d["utility"], "utility", ids)
        return _nests(ck, ids, v, d["nests"], "nests", "dissimilarity", "name", None)
    if kind == "ranked-lists":
        ck.keys(d, "", ("model", "types"), ("format", "metadata"))
        types = ck.seq(d["types"], "types")
        known = None if ids is None else {p: i for i, p in enumerate(ids)}
        order: dict[str, int] = {} if ids is None else dict(known or {})
        w, lists = [], []
        for k, ty in enumerate(types):
            ty = ck.obj(ty, f"types[{k}]")
            ck.keys(ty, f"types[{k}].", ("weight", "list"), ("name",))
            wk = ck.num(ty["weight"], f"types[{k}].weight")
            if wk < 0:
                ck.fail(f"types[{k}].weight", f"must be >= 0, got {wk}")
            lst, seen = [], set()
            for r, p in enumerate(ck.seq(ty["list"], f"types[{k}].list")):
                p = ck.pid(p, f"types[{k}].list[{r}]", known)
                if p in seen:
                    ck.fail(f"types[{k}].list[{r}]", f"product {p!r} appears twice")
                seen.add(p)
                lst.append(order.setdefault(p, len(order)))
            w.append(wk)
            lists.append(lst)
        ck.weights(w, "types", exact=False)
        return RankedLists(tuple(order), w, lists)
    ck.fail("model", f"must be one of {', '.join(RUM_MODELS)}, got {kind!r}")


def _nests(
    ck: _Check,
    ids: tuple[str, ...],
    v: np.ndarray,
    nests: Any,
    fld: str,
    tau_key: str,
    name_key: str | None,
    pcm_map: dict[Any, int] | None,
) -> NestedLogit:
    known = {p: i for i, p in enumerate(ids)}
    nest_of = np.full(len(ids), -1, dtype=np.int64)
    taus, names = [], []
    for m, ne in enumerate(ck.seq(nests, fld)):
        ne = ck.obj(ne, f"{fld}[{m}]")
        if pcm_map is None:
            ck.keys(ne, f"{fld}[{m}].", (tau_key, "products"), (name_key,))
        elif tau_key not in ne or "products" not in ne:
            ck.fail(f"{fld}[{m}]", f"needs {tau_key} and products")
        t = ck.num(ne[tau_key], f"{fld}[{m}].{tau_key}")
        if not 0.0 < t <= 1.0:
            ck.fail(f"{fld}[{m}].{tau_key}", f"dissimilarity must lie in (0, 1], got {t}")
        for r, p in enumerate(ck.seq(ne["products"], f"{fld}[{m}].products")):
            where = f"{fld}[{m}].products[{r}]"
            if pcm_map is not None:
                if p not in pcm_map:
                    ck.fail(where, f"unknown product {p!r}")
                i = pcm_map[p]
                if i < 0:
                    continue
            else:
                i = known[ck.pid(p, where, known)]
            if nest_of[i] >= 0:
                ck.fail(where, f"product {ids[i]!r} is already in {fld}[{nest_of[i]}]")
            nest_of[i] = m
        taus.append(t)
        names.append(str(ne.get(name_key, f"nest{m}")) if name_key else f"nest{m}")
    missing = np.flatnonzero(nest_of < 0)
    if len(missing):
        ck.fail(fld, f"product {ids[missing[0]]!r} is in no nest (each product in exactly one)")
    return NestedLogit(ids, v, nest_of, taus, names)


def _pcm_products(ck: _Check, d: dict[str, Any]) -> list[Any]:
    products = ck.seq(d.get("products"), "products")
    if len(products) < 2 or products[0] != 0:
        ck.fail("products", "must list 0 (no purchase) first and at least one product")
    if len(set(map(str, products))) != len(products):
        ck.fail("products", "a product is listed twice")
    return products


def _pcm_etas(ck: _Check, etas: Any, fld: str, n: int) -> np.ndarray:
    etas = ck.seq(etas, fld)
    if len(etas) != n:
        ck.fail(fld, f"must have {n} entries, got {len(etas)}")
    out = np.array([ck.num(x, f"{fld}[{i}]") for i, x in enumerate(etas)])
    bad = np.flatnonzero(out <= 0)
    if len(bad):
        ck.fail(f"{fld}[{bad[0]}]", f"must be > 0 (a preference weight), got {out[bad[0]]}")
    return out


def _from_pcm(ck: _Check, d: dict[str, Any], ids: tuple[str, ...] | None) -> Any:
    code = d.get("code")
    if code not in PCM_CODES:
        ck.fail("code", f"must be one of {', '.join(PCM_CODES)} (or mkv), got {code!r}")
    products = _pcm_products(ck, d)
    own = tuple(str(p) for p in products[1:])
    n = len(own)
    if code == "mnl":
        model: Any = MNLModel(own, np.log(_pcm_etas(ck, d.get("etas"), "etas", n)))
    elif code == "lc":
        gam = ck.seq(d.get("gammas"), "gammas")
        subs = ck.seq(d.get("multi_logit_models"), "multi_logit_models")
        if len(gam) != len(subs) or not gam:
            ck.fail("gammas", "needs one weight per entry of multi_logit_models")
        w = [ck.num(g, f"gammas[{c}]") for c, g in enumerate(gam)]
        if min(w) < 0:
            ck.fail("gammas", "weights must be >= 0")
        ck.weights(w, "gammas", exact=True)
        rows = []
        for c, s in enumerate(subs):
            s = ck.obj(s, f"multi_logit_models[{c}]")
            rows.append(np.log(_pcm_etas(ck, s.get("etas"), f"multi_logit_models[{c}].etas", n)))
        model = LatentClassMNL(own, np.array(w) / sum(w), np.array(rows))
    elif code == "nl":
        etas = _pcm_etas(ck, d.get("etas"), "etas", n + 1)
        pcm_map = {p: k - 1 for k, p in enumerate(products)}
        nests = ck.seq(d.get("nests"), "nests")
        for m, ne in enumerate(nests):
            ne = ck.obj(ne, f"nests[{m}]")
            if 0 in (ne.get("products") or []):
                lam = ne.get("lambda")
                if len(ne["products"]) > 1 and lam != 1 and lam != 1.0:
                    ck.fail(
                        f"nests[{m}]",
                        "product 0 (no purchase) must be alone in its nest or in a nest with "
                        "lambda 1",
                    )
        v = np.log(etas[1:] / etas[0])
        model = _nests(ck, own, v, nests, "nests", "lambda", None, pcm_map)
    else:
        lists = ck.seq(d.get("ranked_lists"), "ranked_lists")
        betas = [ck.num(b, f"betas[{k}]") for k, b in enumerate(ck.seq(d.get("betas"), "betas"))]
        if len(betas) + 1 != len(lists):
            ck.fail("betas", "needs one weight fewer than ranked_lists (list 0 takes the rest)")
        if betas and min(betas) < 0:
            ck.fail("betas", "weights must be >= 0")
        ck.weights(betas, "betas", exact=False)
        w = [max(0.0, 1.0 - sum(betas))] + betas
        pos = {p: k - 1 for k, p in enumerate(products)}
        out = []
        for k, lst in enumerate(lists):
            lst = ck.seq(lst, f"ranked_lists[{k}]")
            for r, p in enumerate(lst):
                if p not in pos:
                    ck.fail(f"ranked_lists[{k}][{r}]", f"unknown product {p!r}")
            if 0 not in lst:
                ck.fail(f"ranked_lists[{k}]", "must contain 0 (no purchase)")
            head = lst[: lst.index(0)]
            if len(set(head)) < len(head):
                ck.fail(f"ranked_lists[{k}]", "a product appears twice")
            out.append([pos[p] for p in head])
        model = RankedLists(own, w, out)
    if ids is None:
        return model
    extra = [p for p in own if p not in set(ids)]
    if extra:
        ck.fail("products", f"unknown product {extra[0]!r}")
    if not isinstance(model, RankedLists):
        missing = [p for p in ids if p not in set(own)]
        if missing:
            ck.fail("products", f"product {missing[0]!r} is missing (it needs a utility)")
    return model.aligned(ids)


def read_model_file(path: str | os.PathLike[str], ids: Any = None) -> Any:
    """`model_from_dict` of a JSON file (``ids``: see there)."""
    return model_from_dict(read_json(path), str(path), ids)


def save_choice_model(model: Any, path: str | os.PathLike[str]) -> None:
    """Write a choice model's file form (``model.to_dict()``, ``assortopt-choice/1``) to
    ``path`` atomically; `model_from_dict` / `assortopt.truth.load_choice_model` read it back."""
    write_json_atomic(path, model.to_dict())
