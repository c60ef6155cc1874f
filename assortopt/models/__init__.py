"""One builder per formulation; each returns a `Formulation` (arrays + lazy Pyomo model)."""
