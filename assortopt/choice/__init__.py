"""Choice models: the Markov chain model (`mc`) and its MNL special case (`mnl`)."""

from .mc import (
    absorption as absorption,
)
from .mc import (
    chain_probabilities as chain_probabilities,
)
from .mc import (
    choice_details as choice_details,
)
from .mc import (
    choice_probabilities as choice_probabilities,
)
from .mc import (
    offered_mask as offered_mask,
)
from .mc import (
    reduced_chain as reduced_chain,
)
from .mnl import (
    mnl_choice_probabilities as mnl_choice_probabilities,
)
from .mnl import (
    mnl_instance as mnl_instance,
)
from .mnl import (
    mnl_to_mc as mnl_to_mc,
)

__all__ = [
    "absorption",
    "chain_probabilities",
    "choice_details",
    "choice_probabilities",
    "mnl_choice_probabilities",
    "mnl_instance",
    "mnl_to_mc",
    "offered_mask",
    "reduced_chain",
]
