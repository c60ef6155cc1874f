"""assortopt: joint assortment and inventory planning under the Markov chain choice model.

A retailer chooses, before a selling season, which of N substitutable products to carry and how
many units of each to buy. Customers choose by a Markov chain choice model and substitute
dynamically when their choice is not carried or has sold out.

The main names (all importable from ``assortopt``; imported lazily so the CLI starts fast):

Instances
    `load_instance`, `save_instance`, `instance_from_dict`, `instance_to_dict`, `validate_file`,
    `Instance`, `generate` (synthetic heavy-tailed families), `import_pcm`.
Choice model and bound
    `choice_probabilities`, `reduced_chain`, `mnl_to_mc`, `lp_bound` / `LPBound`,
    `OnlineChoiceModel` (the multi-step online ground truth).
Streams and simulation
    `sample_streams` → `Stream` (CSR preference lists), `MarkovChainSampler`, `simulate` →
    `Evaluation`, `simulate_stream`, `paired_difference`; `expected_profit` / `optimal_plan`
    (the exact dynamic program for tiny instances).
Fitting
    `fit_markov_chain` (sales records → an instance with a fitted chain, and a fit report).
Planning
    `solve` → `Solution` (any registered method; `list_methods()` lists them), `load_solution`,
    `write_solution`.
Builders (each returns a `Formulation`: a lazy Pyomo ``ConcreteModel`` plus variable handles,
solved through `SolverOptions` into a `SolveResult`, turned into a `Plan` by ``.plan`` and a
`Solution` by ``.solution``)
    `build` (any formulation by name), `build_lp_bound`, `build_saa_lp`, `build_spill_mip`,
    `build_sample_path_mip`.
Benchmarks
    `run_bench`, `write_report`.
Errors
    `InstanceError` (bad file or field), `OptionError` (bad option), `SolverError`.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "AssortoptError": "exceptions",
    "InstanceError": "exceptions",
    "OptionError": "exceptions",
    "SolverError": "exceptions",
    "Instance": "instance",
    "load_instance": "instance",
    "save_instance": "instance",
    "instance_from_dict": "instance",
    "instance_to_dict": "instance",
    "instance_to_columns": "instance",
    "validate_file": "instance",
    "Stream": "streams",
    "load_solution": "solution",
    "write_solution": "solution",
    "choice_probabilities": "choice.mc",
    "reduced_chain": "choice.mc",
    "reduced_routing": "choice.routing",
    "mnl_to_mc": "choice.mnl",
    "OnlineChoiceModel": "choice.online",
    "load_ground_truth": "choice.online_io",
    "ChoiceModel": "choice.protocol",
    "MNLModel": "choice.mnl",
    "LatentClassMNL": "choice.latent_class",
    "NestedLogit": "choice.nested",
    "RankedLists": "choice.ranked_lists",
    "model_from_dict": "choice.files",
    "save_choice_model": "choice.files",
    "to_markov_chain": "fit.refine",
    "refined_chain": "fit.refine",
    "approximation_error": "choice.approx",
    "MarkovChainModel": "chain_model",
    "load_choice_model": "truth",
    "truth_evaluation": "truth",
    "read_catalogue": "catalogue",
    "Catalogue": "catalogue",
    "sample_streams": "sampling",
    "MarkovChainSampler": "sampling",
    "detect_mnl": "sampling",
    "simulate": "simulation",
    "simulate_stream": "simulation",
    "Evaluation": "simulation",
    "paired_difference": "simulation",
    "expected_profit": "exact",
    "optimal_plan": "exact",
    "solve": "api",
    "Solution": "api",
    "list_methods": "methods.base",
    "SolverOptions": "solver",
    "SolveResult": "solver",
    "Formulation": "models.formulation",
    "Plan": "plan",
    "Termination": "solver.status",
    "lp_bound": "models.lp_bound",
    "LPBound": "models.lp_bound",
    "build_lp_bound": "models.lp_bound",
    "build_saa_lp": "models.saa_lp",
    "solve_saa_lp": "models.saa_lp",
    "build_spill_mip": "models.spill_mip",
    "build_sample_path_mip": "models.sample_path_mip",
    "solve_stock_bnb": "models.stock_bnb",
    "ScenarioDual": "models.scenario_dual",
    "generate": "generators",
    "generate_online": "generators",
    "build": "models",
    "import_pcm": "interop",
    "fit_markov_chain": "fit",
    "run_bench": "bench",
    "write_report": "bench",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'assortopt' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
