"""The online model's sidecar file ``X.online.json`` (format ``assortopt-online/1``).

The file holds the no-purchase weight, the examination probability per list position, the
products with their MNL weights and the queries with their weights and ranked result lists
(instances/README.md describes the fields). An instance ``X.json`` names its sidecar in
``metadata["ground_truth"]``; `write_generated` writes the pair, `load_ground_truth` reads it
back aligned to the instance's product order.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import InstanceError
from ..instance import Instance, save_instance
from ..jsonio import read_json, write_json_atomic
from .online import FORMAT, OnlineChoiceModel

__all__ = [
    "FORMAT",
    "ground_truth_path",
    "load_ground_truth",
    "load_online_model",
    "online_model_from_dict",
    "online_model_to_dict",
    "save_online_model",
    "write_generated",
]


def online_model_to_dict(model: OnlineChoiceModel) -> dict[str, Any]:
    """The sidecar JSON (``assortopt-online/1``): products with weights, queries with lists."""
    return model.to_dict()


def online_model_from_dict(d: Any, source: str | None = None) -> OnlineChoiceModel:
    """Read the sidecar JSON; `InstanceError` names the file and the field on bad input."""

    def fail(fld: str, msg: str) -> None:
        raise InstanceError(fld, msg, source)

    if not isinstance(d, dict):
        fail("", "must be a JSON object (an online choice model)")
    allowed = {"format", "no_purchase_weight", "examination", "products", "queries", "metadata"}
    for key in d:
        if key not in allowed:
            fail(key, f"unknown key (allowed: {', '.join(sorted(allowed))})")
    for key in ("no_purchase_weight", "examination", "products", "queries"):
        if key not in d:
            fail(key, "missing (required)")
    if d.get("format", FORMAT) != FORMAT:
        fail("format", f"must be {FORMAT!r}, got {d['format']!r}")
    v0 = _num(d["no_purchase_weight"], "no_purchase_weight", fail)
    if not v0 > 0:
        fail("no_purchase_weight", f"must be > 0, got {v0}")
    if not isinstance(d["examination"], list):
        fail("examination", "must be a list of numbers")
    e = np.array([_num(x, f"examination[{k}]", fail) for k, x in enumerate(d["examination"])])
    bad = np.flatnonzero(~((e >= 0) & (e <= 1)))
    if bad.size:
        fail(f"examination[{bad[0]}]", "must lie in [0, 1]")
    prods = d["products"]
    if not isinstance(prods, list) or not prods:
        fail("products", "must be a non-empty list of {id, weight}")
    index: dict[str, int] = {}
    v = np.empty(len(prods))
    for k, p in enumerate(prods):
        if not isinstance(p, dict) or set(p) != {"id", "weight"}:
            fail(f"products[{k}]", "must be an object with keys id and weight")
        pid = p["id"]
        if not isinstance(pid, str) or not pid or pid in index:
            fail(f"products[{k}].id", f"must be a new non-empty string, got {pid!r}")
        index[pid] = k
        v[k] = _num(p["weight"], f"products[{k}].weight", fail)
        if not v[k] >= 0:
            fail(f"products[{k}].weight", f"must be >= 0, got {v[k]}")
    queries = d["queries"]
    if not isinstance(queries, list) or not queries:
        fail("queries", "must be a non-empty list of {weight, results}")
    w = np.empty(len(queries))
    offsets = [0]
    items: list[int] = []
    for k, q in enumerate(queries):
        if not isinstance(q, dict) or set(q) != {"weight", "results"}:
            fail(f"queries[{k}]", "must be an object with keys weight and results")
        w[k] = _num(q["weight"], f"queries[{k}].weight", fail)
        if not w[k] >= 0:
            fail(f"queries[{k}].weight", f"must be >= 0, got {w[k]}")
        res = q["results"]
        if not isinstance(res, list):
            fail(f"queries[{k}].results", "must be a list of product ids")
        if len(res) > e.size:
            fail(f"queries[{k}].results", f"longer than examination ({e.size} positions)")
        for j, pid in enumerate(res):
            if not isinstance(pid, str) or pid not in index:
                fail(f"queries[{k}].results[{j}]", f"unknown product id {pid!r}")
            items.append(index[pid])
        if len(set(res)) != len(res):
            fail(f"queries[{k}].results", "lists a product twice")
        offsets.append(len(items))
    if abs(w.sum() - 1.0) > 1e-9:
        fail("queries[*].weight", f"the query weights sum to {w.sum():.10g}, must be 1")
    meta = d.get("metadata", {})
    if not isinstance(meta, dict):
        fail("metadata", "must be an object")
    return OnlineChoiceModel(
        tuple(index), np.array(offsets), np.array(items, dtype=np.int32), w, e, v, v0, meta
    )


def _num(x: Any, fld: str, fail: Any) -> float:
    if isinstance(x, bool) or not isinstance(x, int | float):
        fail(fld, "must be a number")
    if not np.isfinite(float(x)):
        fail(fld, "must be a finite number")
    return float(x)


def save_online_model(model: OnlineChoiceModel, path: str | os.PathLike[str]) -> None:
    """Write the model's JSON atomically."""
    write_json_atomic(path, online_model_to_dict(model))


def load_online_model(path: str | os.PathLike[str]) -> OnlineChoiceModel:
    """Read a model written by `save_online_model` (raises `InstanceError` naming the file)."""
    return online_model_from_dict(read_json(path), source=str(path))


def ground_truth_path(path: str | os.PathLike[str]) -> Path:
    """``X.online.json`` next to the instance file ``X.json``."""
    path = Path(path)
    stem = path.name[:-5] if path.name.endswith(".json") else path.name
    return path.with_name(stem + ".online.json")


def write_generated(
    inst: Instance, path: str | os.PathLike[str], ground_truth: OnlineChoiceModel | None = None
) -> Instance:
    """Write ``inst`` (and the ground-truth model next to it, named in ``metadata``) atomically.

    Both files are written through temporary files and renames: the sidecar first, then the
    instance that names it. Returns the instance as written.
    """
    if ground_truth is not None:
        side = ground_truth_path(path)
        meta = dict(inst.metadata)
        meta["ground_truth"] = side.name
        inst = inst.replace(metadata=meta)
        save_online_model(ground_truth.aligned_to(inst.ids), side)
    save_instance(inst, path)
    return inst


def load_ground_truth(
    inst: Instance, path: str | os.PathLike[str] | None = None
) -> OnlineChoiceModel | None:
    """The ground-truth model named by ``inst.metadata["ground_truth"]`` (None if there is none),
    aligned to the instance's product order. The name is resolved next to ``path`` or to
    ``inst.source``."""
    name = inst.metadata.get("ground_truth") if isinstance(inst.metadata, dict) else None
    if not name:
        return None
    base = Path(path if path is not None else (inst.source or ".")).parent
    model = load_online_model(base / str(name))
    if sorted(model.ids) != sorted(inst.ids):
        raise InstanceError("metadata.ground_truth", f"{name} lists other products", inst.source)
    return model.aligned_to(inst.ids)
