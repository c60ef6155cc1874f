"""The worked examples in docs/examples/ run (small sizes) and their own assertions hold.

Each example asserts claims that could fail (the exact MIP is best in sample, a constraint
cannot help and is honoured, the oracle SAA plan is best on its streams, the largest K is within
two paired standard errors of the best); here we run them and check what they return against
independent facts (the files they write, the constraint they add, the instance's own rules).
The Python API snippet of the README is run too.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "docs" / "examples"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_chocolate_four_ways() -> None:
    sols = load("chocolate_four_ways").main(small=True)
    assert set(sols) == {"heuristic", "mip", "spill-mip", "fluid"}
    seeds = {s.evaluation.seed for s in sols.values()}
    reps = {s.evaluation.reps for s in sols.values()}
    assert len(seeds) == 1 and len(reps) == 1  # common random numbers
    assert sols["mip"].status == "optimal"


def test_category_constraint() -> None:
    out = load("category_constraint").main(small=True)
    free, cat = out["free"], out["category"]
    assert cat.objective < free.objective  # the rule binds, so it costs in sample
    assert "category" in cat.extra["user_components"]
    inst = out["inst"]
    cats = np.asarray(inst.metadata["category"])
    for c in np.unique(cats):  # every category of the instance has a stocked product
        assert (cat.stock[cats == c] > 0).any(), c
    assert not all((free.stock[cats == c] > 0).any() for c in np.unique(cats))


def test_online_ground_truth() -> None:
    out = load("online_ground_truth").main(small=True)
    assert set(out) == {"heuristic", "mip", "oracle"}
    assert out["oracle"]["vs_oracle"] == 0.0 and out["oracle"]["se"] == 0.0
    for row in out.values():
        assert np.isfinite(row["truth"]) and np.isfinite(row["mc"])


def test_scenario_sweep(tmp_path: Path) -> None:
    png = tmp_path / "sweep.png"
    evals = load("scenario_sweep").main(small=True, out=png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert set(evals) == {"mip", "heuristic"}
    all_evals = [ev for by_k in evals.values() for ev in by_k.values()]
    assert len(all_evals) >= 6 and len({(ev.seed, ev.reps) for ev in all_evals}) == 1


def test_fit_from_sales() -> None:
    out = load("fit_from_sales").main(small=True)
    fitted, truth, ev = out["fitted"], out["truth"], out["evaluations"]
    assert fitted.ids == truth.ids and fitted.customers_mean == truth.customers_mean
    assert {e.seed for e in ev.values()} == {7} and len({e.reps for e in ev.values()}) == 1
    diff, se = out["diff"]
    # the truth's plan is planned on the true chain: the fitted chain's plan is not much better
    assert diff < 3 * se + 0.05 * abs(ev["truth"].mean)


def test_python_api_example() -> None:
    """docs/examples/python_api.py is the README's "Python API" build-extend-solve snippet."""
    ns = load("python_api").main()
    plan, inst, mine = ns["plan"], ns["inst"], ns["mine"]
    assert plan.stock.sum() <= 60  # the user's cap binds: the free spill MIP stocks more
    free = ns["build"]("spill_mip", inst, scenarios=100, seed=0)
    assert free.plan(free.solve()).stock.sum() > 60
    assert inst.cost @ plan.stock <= inst.budget and (plan.stock > 0).sum() <= inst.max_products
    assert mine.to_dict()["stock"] == inst.stock_dict(plan.stock)


def _readme_python_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text()
    m = re.search(r"^## Python API\n(.*?)(?=^## |\Z)", text, flags=re.S | re.M)
    assert m, "README has a Python API section"
    return re.findall(r"```python\n(.*?)```", m.group(1), flags=re.S)


@pytest.mark.parametrize("i", range(len(_readme_python_blocks())))
def test_readme_python_api_blocks_run(
    i: int, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # files the snippet writes go to a scratch folder
    code = _readme_python_blocks()[i].replace('"instances/', f'"{ROOT}/instances/')
    exec(compile(code, f"README.md Python API block {i}", "exec"), {})


def test_every_public_name_and_builder_has_a_docstring() -> None:
    import importlib
    import inspect

    import assortopt
    from assortopt.models import build
    from assortopt.models.formulation import Formulation

    for name, mod in assortopt._EXPORTS.items():
        obj = getattr(importlib.import_module(f"assortopt.{mod}"), name)
        doc = inspect.getdoc(obj) or ""
        assert len(doc) > 40, name
    for fn in (
        build,
        assortopt.build_lp_bound,
        assortopt.build_saa_lp,
        assortopt.build_spill_mip,
        assortopt.build_sample_path_mip,
        Formulation.solve,
        Formulation.plan,
        Formulation.values,
        Formulation.solution,
    ):
        doc = inspect.getdoc(fn) or ""
        assert "Raises" in doc or "raise" in doc.lower(), fn.__qualname__
