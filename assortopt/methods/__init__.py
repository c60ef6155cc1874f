"""Planning methods: each turns an instance into a stocking plan. See `base.register`.

Importing this package (as any import of one of its modules does) loads every method module, so
the registry (`base.METHODS`, `get_method`, `list_methods`) is complete before anyone asks it;
the registry itself imports no method, which keeps the package free of import cycles.
"""

from . import baselines, heuristic, local_search, mip, spill_mip, waves  # noqa: E402,F401,I001
from .base import METHODS, Plan, PlanRequest, get_method, list_methods, register

__all__ = ["METHODS", "Plan", "PlanRequest", "get_method", "list_methods", "register"]
