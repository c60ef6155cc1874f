"""Planning under a true model: simulated profit under a true model equals the exact DP under
it; solve/evaluate --truth and local search under the truth."""

from __future__ import annotations

import json

import numpy as np
import pytest

from assortopt.chain_model import MarkovChainModel
from assortopt.choice.nested import NestedLogit
from assortopt.choice.ranked_lists import RankedLists
from assortopt.cli import main
from assortopt.exact import expected_profit
from assortopt.instance import Instance, save_instance
from assortopt.methods.local_search import planning_stream
from assortopt.simulation import simulate_stream
from assortopt.truth import truth_evaluation


@pytest.fixture()
def tiny(tiny3: Instance) -> Instance:
    """The shared DP-sized three-product cycle (tests/conftest.py)."""
    return tiny3


RL = RankedLists(("c", "a", "b"), [0.35, 0.25, 0.3], [[1, 0], [2, 1, 0], [0]])
NL = NestedLogit(("a", "b", "c"), [0.5, 0.2, -0.3], [0, 0, 0], [0.3])


@pytest.mark.parametrize("model", [RL, NL], ids=["ranked-lists", "nested-logit"])
@pytest.mark.parametrize("poisson", [False, True])
def test_simulated_profit_under_truth_equals_exact_dp(tiny, model, poisson):
    inst = tiny.replace(customers_distribution="poisson") if poisson else tiny
    truth = model.aligned(inst.ids)
    for stock in ([2, 1, 2], [0, 3, 1]):
        exact = expected_profit(inst, stock, model=truth)
        ev = truth_evaluation(inst, stock, model, reps=40_000, seed=5)
        assert abs(ev.mean - exact) < 4 * ev.stderr + 1e-9, (stock, ev.mean, exact)


def test_dp_with_the_chain_as_model_is_the_chain_dp(tiny):
    m = MarkovChainModel(tiny)
    for stock in ([2, 1, 2], [1, 0, 3]):
        assert expected_profit(tiny, stock, model=m) == pytest.approx(
            expected_profit(tiny, stock), rel=1e-12
        )


def test_truth_evaluation_is_not_the_chain_evaluation(tiny):
    """A different truth gives a different value (the DPs differ, and the simulator follows)."""
    stock = [2, 1, 2]
    a = expected_profit(tiny, stock)
    b = expected_profit(tiny, stock, model=RL.aligned(tiny.ids))
    assert abs(a - b) > 0.1


def test_solve_and_evaluate_with_truth(tmp_path, tiny, capsys):
    inst_p, model_p = tmp_path / "i.json", tmp_path / "rl.json"
    save_instance(tiny, inst_p)
    model_p.write_text(json.dumps(RL.to_dict()))
    sol_p = tmp_path / "s.json"
    assert (
        main(
            [
                "solve",
                str(inst_p),
                "--truth",
                str(model_p),
                "--eval-reps",
                "3000",
                "--seed",
                "4",
                "-o",
                str(sol_p),
            ]
        )
        == 0
    )
    sol = json.loads(sol_p.read_text())
    te = sol["truth_evaluation"]
    stock = [sol["stock"].get(p, 0) for p in tiny.ids]
    want = truth_evaluation(tiny, stock, RL, reps=3000, seed=5)
    assert te["mean"] == pytest.approx(want.mean) and te["reps"] == 3000 and te["seed"] == 5
    capsys.readouterr()
    assert (
        main(
            [
                "evaluate",
                str(inst_p),
                str(sol_p),
                "--truth",
                str(model_p),
                "--reps",
                "3000",
                "--seed",
                "5",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["mean"] == pytest.approx(want.mean)


def test_local_search_under_truth_scores_on_truth_streams(tmp_path, tiny, capsys):
    inst_p, model_p = tmp_path / "i.json", tmp_path / "rl.json"
    save_instance(tiny, inst_p)
    model_p.write_text(json.dumps(RL.to_dict()))
    sol_p = tmp_path / "s.json"
    assert (
        main(
            [
                "solve",
                str(inst_p),
                "-m",
                "local-search",
                "--truth",
                str(model_p),
                "-k",
                "200",
                "--eval-reps",
                "500",
                "-o",
                str(sol_p),
            ]
        )
        == 0
    )
    sol = json.loads(sol_p.read_text())
    stock = [sol["stock"].get(p, 0) for p in tiny.ids]
    stream = planning_stream(tiny, 200, 0, RL.aligned(tiny.ids))
    in_sample = simulate_stream(tiny, stock, stream).profits.mean()
    assert sol["objective"] == pytest.approx(in_sample, rel=1e-12)
    assert "truth_evaluation" in sol


@pytest.mark.parametrize("family", ["latent-class", "nested-logit", "ranked-lists"])
def test_truth_families_carry_their_model(family):
    from assortopt.instance import instance_from_dict, instance_to_dict
    from assortopt.truth import FROM_INSTANCE, truth_for
    from assortopt.truth_families import generate_truth

    inst, model = generate_truth(family, 12, 30, 3)
    instance_from_dict(instance_to_dict(inst))  # a valid instance file
    again = truth_for(inst, FROM_INSTANCE)
    full = np.ones((1, 12), bool)
    np.testing.assert_allclose(again.probabilities(full), model.probabilities(full), atol=1e-15)
    # the chain is BGG: first choices agree with the model on the full set
    np.testing.assert_allclose(inst.arrival, model.probabilities(full)[0, :12], atol=1e-12)
    assert set(inst.metadata["approximation_error"]) >= {"max_abs", "mean_abs"}


def test_bench_config_accepts_truth_families(tmp_path):
    from assortopt.bench.config import load_config
    from assortopt.exceptions import OptionError

    text = """
[[grid]]
family = ["nested-logit", "ranked-lists"]
n_products = [5]
customers = [10]
family_params = {nested-logit = {nest_size = [2, 3]}}
[[method]]
name = "local-search"
params = {truth = "@instance"}
"""
    p = tmp_path / "c.toml"
    p.write_text(text)
    cfg = load_config(p)
    assert {c.family for c in cfg.cells()} == {"nested-logit", "ranked-lists"}
    p.write_text(text.replace("nest_size = [2, 3]", "bogus = 1"))
    with pytest.raises(OptionError, match="bogus"):
        load_config(p)
