"""Columnar instance files (``.npz``): a products table, a transitions table and a JSON header.

Layout (numpy's NPZ, read with ``allow_pickle=False``; README.md, "Large catalogues"):

- ``header``: the JSON object of the instance file without ``products`` and ``transitions``
  (``format``, ``name``, ``customers``, ``constraints``, ``metadata``), as a 0-d string;
- ``products.id`` (strings), ``products.price``, ``products.cost``, ``products.arrival`` and
  optionally ``products.salvage``, ``products.fixed_cost``: one row per product;
- ``transitions.from``, ``transitions.to`` (integer row positions in the products table) and
  ``transitions.prob``: one row per transition (COO).

`read_npz` returns the same dict as a parsed JSON file except that ``products`` and
``transitions`` are dicts of columns; the instance checker validates both forms with the same
rules and messages.
"""

from __future__ import annotations

import json
import os
import zipfile
from typing import Any

import numpy as np

from .exceptions import InstanceError
from .jsonio import parse_json, write_atomic

__all__ = ["is_npz", "read_npz", "write_npz_atomic"]


def is_npz(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names a columnar instance file (by its extension)."""
    return str(path).lower().endswith(".npz")


def read_npz(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a columnar instance file into the instance dict (products/transitions as columns).

    Raises `InstanceError` naming the file for a missing or unreadable file, a file that is
    not NPZ, a missing or invalid ``header``, or an unknown table column.
    """
    source = str(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise InstanceError("", "no such file", source) from None
    except IsADirectoryError:
        raise InstanceError("", "is a directory, not a file", source) from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise InstanceError("", f"cannot read NPZ file: {exc}", source) from None
    if "header" not in arrays:
        raise InstanceError("header", "missing (the JSON header of an .npz instance)", source)
    header = parse_json(str(arrays.pop("header")), source, "header")
    if not isinstance(header, dict):
        raise InstanceError("header", "must be a JSON object", source)
    for key in ("products", "transitions"):
        if key in header:
            raise InstanceError(f"header.{key}", f"belongs in the {key} table", source)
    tables: dict[str, dict[str, np.ndarray]] = {"products": {}, "transitions": {}}
    for name, arr in arrays.items():
        table, _, col = name.partition(".")
        if table not in tables or not col:
            raise InstanceError(
                name, "unknown array (allowed: header, products.*, transitions.*)", source
            )
        tables[table][col] = arr
    d = dict(header)
    if tables["products"]:
        d["products"] = tables["products"]
    d["transitions"] = tables["transitions"] or {
        "from": np.zeros(0, np.int64),
        "to": np.zeros(0, np.int64),
        "prob": np.zeros(0),
    }
    return d


def write_npz_atomic(path: str | os.PathLike[str], d: dict[str, Any]) -> None:
    """Write an instance dict with columnar ``products``/``transitions`` to ``path`` atomically
    (uncompressed NPZ in a temporary file, flushed and renamed over ``path``)."""
    header = {k: v for k, v in d.items() if k not in ("products", "transitions")}
    arrays: dict[str, np.ndarray] = {"header": np.array(json.dumps(header, allow_nan=False))}
    for table in ("products", "transitions"):
        for col, arr in d[table].items():
            arrays[f"{table}.{col}"] = np.asarray(arr)
    write_atomic(path, lambda fh: np.savez(fh, **arrays))
