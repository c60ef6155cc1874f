"""The Markov chain itself as a choice model (`assortopt.choice.protocol.ChoiceModel`).

`MarkovChainModel` wraps an `Instance`: its probabilities are the chain's P(j | S)
(`assortopt.choice.mc.choice_probabilities`) and its sampler is the instance's own exact
`assortopt.sampling.MarkovChainSampler` (the class it extends). It lives at the sampling
layer, above `assortopt.choice`, because its sampler does. File forms: ``assortopt-choice/1``
with ``"model": "markov-chain"``, ``"arrival": {id: λ}`` and ``"transitions": [{"from", "to",
"prob"}]`` (the instance file's rules), and python_choice_models ``mkv`` files
(`assortopt.interop.import_pcm`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .choice.mc import choice_probabilities
from .choice.protocol import offer_matrix, permutation
from .exceptions import InstanceError
from .instance import Instance, instance_from_dict
from .interop import import_pcm
from .sampling import MarkovChainSampler

__all__ = ["MarkovChainModel", "chain_model_from_dict"]


class MarkovChainModel(MarkovChainSampler):
    """A chain (an instance's arrival λ and transitions ρ) as a `ChoiceModel`."""

    @property
    def ids(self) -> tuple[str, ...]:
        return self.inst.ids

    def probabilities(self, offered: Any) -> np.ndarray:
        """B×(N+1) purchase probabilities, column N = no purchase."""
        mask = offer_matrix(offered, self.inst.ids)
        out = np.empty((mask.shape[0], self.inst.n + 1))
        for b, row in enumerate(mask):
            out[b, :-1] = choice_probabilities(self.inst, row)
            out[b, -1] = max(0.0, 1.0 - out[b, :-1].sum())
        return out

    def aligned(self, ids: Any) -> MarkovChainModel:
        perm = permutation(self.inst.ids, ids)
        rho = self.inst.transitions[perm][:, perm]
        inst = Instance(
            ids=tuple(ids),
            price=self.inst.price[perm],
            cost=self.inst.cost[perm],
            arrival=self.inst.arrival[perm],
            transitions=rho,
            customers_mean=self.inst.customers_mean,
            customers_distribution=self.inst.customers_distribution,
            name=self.inst.name,
        )
        return MarkovChainModel(inst, method=self.method)

    def to_dict(self) -> dict[str, Any]:
        rho = self.inst.transitions.tocoo()
        ids = self.inst.ids
        return {
            "format": "assortopt-choice/1",
            "model": "markov-chain",
            "arrival": {p: float(a) for p, a in zip(ids, self.inst.arrival, strict=True)},
            "transitions": [
                {"from": ids[i], "to": ids[j], "prob": float(v)}
                for i, j, v in zip(rho.row, rho.col, rho.data, strict=True)
            ],
        }


def chain_model_from_dict(d: dict[str, Any], source: str | None = None) -> MarkovChainModel:
    """A `MarkovChainModel` from a ``markov-chain`` dict or a python_choice_models ``mkv`` one,
    checked by the instance file's rules (`InstanceError` naming file and field)."""
    if d.get("code") == "mkv":
        try:
            return MarkovChainModel(import_pcm(d, prices=1.0, costs=0.0))
        except InstanceError as exc:
            raise InstanceError(exc.field, exc.reason, source) from None
    arrival = d.get("arrival")
    if not isinstance(arrival, dict):
        raise InstanceError("arrival", "must be an object id -> first-choice probability", source)
    for k in d:
        if k not in ("format", "model", "arrival", "transitions", "metadata"):
            raise InstanceError(k, "unknown key", source)
    inst_d = {
        "customers": {"mean": 1},
        "products": [
            {"id": p, "price": 1.0, "cost": 0.0, "arrival": a} for p, a in arrival.items()
        ],
        "transitions": d.get("transitions", []),
    }
    return MarkovChainModel(instance_from_dict(inst_d, source))
