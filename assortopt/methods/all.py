"""Import every method module so that each registers itself."""

from . import baselines, heuristic, local_search, mip, spill_mip, waves  # noqa: F401
