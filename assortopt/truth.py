"""Planning under a true choice model: read any model file and judge plans under it.

A plan is made on a Markov chain (the instance); the *truth* is any
`assortopt.choice.protocol.ChoiceModel` over the same products. Because a model's customers
are preference lists, the simulator plays them unchanged: `truth_evaluation` is `simulate` with
the true model as the list sampler, on the same seeds (common random numbers across plans).
"""

from __future__ import annotations

import os
from typing import Any

from .chain_model import chain_model_from_dict
from .choice.files import model_from_dict
from .exceptions import InstanceError, OptionError
from .instance import Instance
from .jsonio import read_json
from .simulation import Evaluation, simulate

__all__ = ["FROM_INSTANCE", "load_choice_model", "truth_evaluation", "truth_for"]


def load_choice_model(path: str | os.PathLike[str], ids: Any = None) -> Any:
    """Any choice model file: ``assortopt-choice/1`` (mnl, latent-class-mnl, nested-logit,
    ranked-lists, markov-chain) or python_choice_models (mnl, lc, nl, rl, mkv).

    With ``ids`` the model is checked against those products and returned in their order.
    Raises `InstanceError` naming the file and the field.
    """
    source = str(path)
    d = read_json(path)
    if isinstance(d, dict) and (d.get("model") == "markov-chain" or d.get("code") == "mkv"):
        model = chain_model_from_dict(d, source)
        if ids is not None:
            try:
                model = model.aligned(ids)
            except OptionError as exc:
                raise InstanceError("products", str(exc), source) from None
        return model
    return model_from_dict(d, source, ids)


#: ``truth`` value meaning "the model stored in the instance's metadata" (benchmark families)
FROM_INSTANCE = "@instance"


def truth_for(inst: Instance, model: Any) -> Any:
    """``model`` with its products in the instance's order (`OptionError` if they differ).

    ``model`` is a `ChoiceModel`, a model file, a model dict (file form), or `FROM_INSTANCE`
    for the model in ``inst.metadata["truth"]`` (`assortopt.truth_families`)."""
    if isinstance(model, str) and model == FROM_INSTANCE:
        if "truth" not in inst.metadata:
            raise OptionError(f"truth={FROM_INSTANCE}: the instance carries no true model")
        model = inst.metadata["truth"]
    if isinstance(model, dict):
        if model.get("model") == "markov-chain" or model.get("code") == "mkv":
            return chain_model_from_dict(model).aligned(inst.ids)
        return model_from_dict(model, None, inst.ids)
    if isinstance(model, str | os.PathLike):
        return load_choice_model(model, inst.ids)
    return model if tuple(model.ids) == inst.ids else model.aligned(inst.ids)


def truth_evaluation(
    inst: Instance, stock: Any, model: Any, reps: int = 10000, seed: int = 1
) -> Evaluation:
    """`simulate` plan ``stock`` with customers drawn from the true ``model`` (a model or a
    file path); the instance gives prices, costs and the number of customers."""
    return simulate(inst, stock, reps=reps, seed=seed, sampler=truth_for(inst, model))
