"""Customer streams: the one currency between choice models and everything that consumes them.

A customer is a preference list: the products she would try, in order (for the Markov chain
model, the first-visit order of her walk, never cut short). She buys the first product of her
list that is in stock when she arrives. A `Stream` stores K scenarios of such customers in CSR
form: ``items[offsets[c]:offsets[c+1]]`` is customer c's list, and scenario k holds customers
``scenario_offsets[k]:scenario_offsets[k+1]`` in arrival order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Stream:
    """K scenarios of customers, each a preference list, in compact arrays.

    Attributes
    ----------
    offsets
        int64, length C+1: customer c's list is ``items[offsets[c]:offsets[c+1]]`` (may be empty:
        she wants nothing).
    items
        int32 product positions.
    scenario_offsets
        int64, length K+1: scenario k is customers ``scenario_offsets[k]:scenario_offsets[k+1]``.
    n_products
        N, the number of products of the instance the lists refer to.
    """

    offsets: np.ndarray
    items: np.ndarray
    scenario_offsets: np.ndarray
    n_products: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "offsets", np.ascontiguousarray(self.offsets, dtype=np.int64))
        object.__setattr__(self, "items", np.ascontiguousarray(self.items, dtype=np.int32))
        object.__setattr__(
            self, "scenario_offsets", np.ascontiguousarray(self.scenario_offsets, dtype=np.int64)
        )
        if self.offsets.ndim != 1 or self.offsets[0] != 0 or self.offsets[-1] != len(self.items):
            raise ValueError("Stream: offsets must start at 0 and end at len(items)")
        if self.scenario_offsets[0] != 0 or self.scenario_offsets[-1] != len(self.offsets) - 1:
            raise ValueError("Stream: scenario_offsets must cover every customer")

    @property
    def n_scenarios(self) -> int:
        return len(self.scenario_offsets) - 1

    @property
    def n_customers(self) -> int:
        return len(self.offsets) - 1

    @property
    def customers_per_scenario(self) -> np.ndarray:
        return np.diff(self.scenario_offsets)

    @property
    def list_lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def customer(self, c: int) -> np.ndarray:
        """Customer c's preference list (product positions)."""
        return self.items[self.offsets[c] : self.offsets[c + 1]]

    def scenario(self, k: int) -> Stream:
        """Scenario k alone, as a one-scenario stream."""
        return self.select(np.array([k]))

    def select(self, scenarios: np.ndarray) -> Stream:
        """A stream made of the given scenarios, in that order."""
        parts_o, parts_i, counts = [np.zeros(1, np.int64)], [], []
        base = 0
        for k in np.asarray(scenarios, dtype=np.int64):
            c0, c1 = self.scenario_offsets[k], self.scenario_offsets[k + 1]
            o = self.offsets[c0 : c1 + 1]
            parts_i.append(self.items[o[0] : o[-1]])
            parts_o.append(o[1:] - o[0] + base)
            base += o[-1] - o[0]
            counts.append(c1 - c0)
        so = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)])
        items = np.concatenate(parts_i) if parts_i else np.zeros(0, np.int32)
        return Stream(np.concatenate(parts_o), items, so, self.n_products)

    def first_choices(self) -> np.ndarray:
        """First product of each customer's list, −1 for customers who want nothing."""
        out = np.full(self.n_customers, -1, dtype=np.int64)
        nonempty = self.offsets[1:] > self.offsets[:-1]
        out[nonempty] = self.items[self.offsets[:-1][nonempty]]
        return out

    def restrict(self, keep: np.ndarray) -> Stream:
        """Drop products outside ``keep`` (bool mask of length N) from every list.

        This is the only exact shortening of a list: a product that is never stocked is never
        bought, so removing it changes no purchase. Customers are kept (possibly with empty lists).
        """
        keep = np.asarray(keep, dtype=bool)
        mask = keep[self.items]
        cust = np.repeat(np.arange(self.n_customers), self.list_lengths)
        new_len = np.bincount(cust[mask], minlength=self.n_customers)
        offsets = np.concatenate([[0], np.cumsum(new_len, dtype=np.int64)])
        return Stream(offsets, self.items[mask], self.scenario_offsets, self.n_products)

    @staticmethod
    def concat(streams: list[Stream]) -> Stream:
        """Scenarios of several streams (over the same products), one after the other."""
        if not streams:
            raise ValueError("Stream.concat needs at least one stream")
        offs, items, sc = [np.zeros(1, np.int64)], [], [np.zeros(1, np.int64)]
        ib = cb = 0
        for s in streams:
            offs.append(s.offsets[1:] + ib)
            items.append(s.items)
            sc.append(s.scenario_offsets[1:] + cb)
            ib += len(s.items)
            cb += s.n_customers
        return Stream(
            np.concatenate(offs), np.concatenate(items), np.concatenate(sc), streams[0].n_products
        )

    @staticmethod
    def from_lists(lists_per_scenario: list[list[list[int]]], n_products: int) -> Stream:
        """Build from nested Python lists (for tests and small hand-made examples only)."""
        lengths, items, counts = [], [], []
        for scen in lists_per_scenario:
            counts.append(len(scen))
            for lst in scen:
                lengths.append(len(lst))
                items.extend(lst)
        offsets = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])
        so = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)])
        return Stream(offsets, np.asarray(items, dtype=np.int32), so, n_products)
