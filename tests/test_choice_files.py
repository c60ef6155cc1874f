"""Choice model files: round trips, python_choice_models files against their own formulas,
and bad files rejected with one line naming file and field (CLI exit 2)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from assortopt.catalogue import read_catalogue
from assortopt.chain_model import MarkovChainModel
from assortopt.choice.files import model_from_dict
from assortopt.choice.latent_class import LatentClassMNL
from assortopt.choice.mnl import MNLModel
from assortopt.choice.nested import NestedLogit
from assortopt.choice.ranked_lists import RankedLists
from assortopt.cli import main
from assortopt.exceptions import InstanceError
from assortopt.interop import export_pcm
from assortopt.truth import load_choice_model
from tests.factories import random_instance

IDS = ("p1", "p2", "p3")
SETS = np.array([[(c >> i) & 1 for i in range(3)] for c in range(1, 8)], dtype=bool)

NL = {
    "format": "assortopt-choice/1",
    "model": "nested-logit",
    "utility": {"p1": 0.4, "p2": -1.1, "p3": 0.2},
    "nests": [
        {"name": "dark", "dissimilarity": 0.5, "products": ["p1", "p2"]},
        {"name": "milk", "dissimilarity": 1.0, "products": ["p3"]},
    ],
}
LC = {
    "format": "assortopt-choice/1",
    "model": "latent-class-mnl",
    "classes": [
        {"weight": 0.6, "utility": {"p1": 0.4, "p2": -1.1, "p3": 0.0}},
        {"weight": 0.4, "utility": {"p1": -2.0, "p2": 1.0, "p3": 0.5}},
    ],
}
RL = {
    "format": "assortopt-choice/1",
    "model": "ranked-lists",
    "types": [{"weight": 0.3, "list": ["p2", "p1"]}, {"weight": 0.7, "list": ["p1"]}],
}
MNL = {"format": "assortopt-choice/1", "model": "mnl", "utility": {"p1": 0.4, "p2": -1.1, "p3": 0}}


@pytest.mark.parametrize("d", [MNL, LC, NL, RL])
def test_round_trip(d):
    m = model_from_dict(d)
    again = model_from_dict(json.loads(json.dumps(m.to_dict())))
    ids = m.ids
    sets = np.ones((1, len(ids)), bool) if len(ids) != 3 else SETS
    np.testing.assert_allclose(again.probabilities(sets), m.probabilities(sets), atol=1e-15)


def test_markov_chain_model_round_trip(tmp_path):
    inst = random_instance(4, 1)
    m = MarkovChainModel(inst)
    p = tmp_path / "mc.json"
    p.write_text(json.dumps(m.to_dict()))
    again = load_choice_model(p)
    sets = np.array([[1, 0, 1, 1], [0, 1, 0, 0]], bool)
    np.testing.assert_allclose(again.probabilities(sets), m.probabilities(sets), atol=1e-12)
    pcm = tmp_path / "mkv.json"
    pcm.write_text(json.dumps(export_pcm(inst)))
    np.testing.assert_allclose(
        load_choice_model(pcm).probabilities(sets)[:, :4], m.probabilities(sets)[:, :4], atol=1e-12
    )


def _pcm_nl(etas, nests, offered, product):
    """python_choice_models' nested logit formula (weights etas over 0..N, nests' lambda)."""
    den = sum(
        sum(etas[p] ** (1 / n["lambda"]) for p in n["products"] if p in offered) ** n["lambda"]
        for n in nests
    )
    nest = next(n for n in nests if product in n["products"])
    num = sum(etas[p] ** (1 / nest["lambda"]) for p in nest["products"] if p in offered)
    return num ** (nest["lambda"] - 1) * etas[product] ** (1 / nest["lambda"]) / den


def test_python_choice_models_files_match_their_formulas():
    etas = [0.7, 1.5, 0.4]
    mnl = model_from_dict({"code": "mnl", "products": [0, 1, 2, 3], "etas": etas})
    lc = model_from_dict(
        {
            "code": "lc",
            "products": [0, 1, 2, 3],
            "gammas": [0.25, 0.75],
            "multi_logit_models": [
                {"code": "mnl", "products": [0, 1, 2, 3], "etas": etas},
                {"code": "mnl", "products": [0, 1, 2, 3], "etas": [2.0, 0.1, 1.0]},
            ],
        }
    )
    nl_etas = [1.3, 0.7, 1.5, 0.4]
    nests = [
        {"lambda": 1.0, "products": [0]},
        {"lambda": 0.4, "products": [1, 3]},
        {"lambda": 0.8, "products": [2]},
    ]
    nl = model_from_dict({"code": "nl", "products": [0, 1, 2, 3], "etas": nl_etas, "nests": nests})
    rl = model_from_dict(
        {
            "code": "rl",
            "products": [0, 1, 2, 3],
            "betas": [0.5, 0.2],
            "ranked_lists": [[2, 0, 1, 3], [1, 3, 2, 0], [0, 1, 2, 3]],
        }
    )
    assert mnl.ids == ("1", "2", "3")
    for s in SETS:
        off = [0] + [k + 1 for k in range(3) if s[k]]
        for j in range(3):
            k = j + 1
            e_mnl = etas[j] / (1 + sum(etas[q - 1] for q in off if q)) if s[j] else 0.0
            assert math.isclose(mnl.probabilities(s)[0, j], e_mnl, rel_tol=1e-12, abs_tol=1e-15)
            e_lc = 0.25 * e_mnl + 0.75 * (
                [2.0, 0.1, 1.0][j] / (1 + sum([2.0, 0.1, 1.0][q - 1] for q in off if q))
                if s[j]
                else 0.0
            )
            assert math.isclose(lc.probabilities(s)[0, j], e_lc, rel_tol=1e-12, abs_tol=1e-15)
            e_nl = _pcm_nl(nl_etas, nests, off, k) if s[j] else 0.0
            assert math.isclose(nl.probabilities(s)[0, j], e_nl, rel_tol=1e-12, abs_tol=1e-15)
        lists_w = [(0.3, [2, 0, 1, 3]), (0.5, [1, 3, 2, 0]), (0.2, [0, 1, 2, 3])]
        e_rl = np.zeros(4)
        for w, lst in lists_w:
            e_rl[next(q for q in lst if q in off)] += w
        np.testing.assert_allclose(rl.probabilities(s)[0], [*e_rl[1:], e_rl[0]], atol=1e-15)


BAD = [
    (
        {**LC, "classes": [{**LC["classes"][0], "weight": 0.5}, LC["classes"][1]]},
        "classes",
        "sum to 1",
    ),
    (
        {**NL, "nests": [NL["nests"][0], {**NL["nests"][1], "products": ["p3", "p1"]}]},
        "nests[1].products[1]",
        "already in nests[0]",
    ),
    (
        {**NL, "nests": [{**NL["nests"][0], "dissimilarity": 1.5}, NL["nests"][1]]},
        "nests[0].dissimilarity",
        "(0, 1]",
    ),
    (
        {**NL, "nests": [{**NL["nests"][0], "dissimilarity": 0}, NL["nests"][1]]},
        "nests[0].dissimilarity",
        "(0, 1]",
    ),
    (
        {**RL, "types": [{"weight": 0.3, "list": ["p2", "p9"]}]},
        "types[0].list[1]",
        "unknown product",
    ),
    ({**MNL, "utility": {"p1": 0.4, "p2": -1.1}}, "utility.p3", "missing"),
    (
        {**MNL, "utility": {"p1": 0.4, "p2": -1.1, "p3": 0, "p4": 1}},
        "utility.p4",
        "unknown product",
    ),
    (
        {**LC, "classes": [LC["classes"][0], {"weight": 0.4, "utility": {"p1": 1, "p2": 1}}]},
        "classes[1].utility.p3",
        "missing",
    ),
    (
        {**RL, "types": [{"weight": 0.8, "list": ["p1"]}, {"weight": 0.7, "list": ["p2"]}]},
        "types",
        "at most 1",
    ),
    ({**NL, "nests": [NL["nests"][0]]}, "nests", "in no nest"),
]


@pytest.mark.parametrize(("d", "field", "words"), BAD)
def test_bad_files_name_file_and_field(tmp_path, capsys, d, field, words):
    path = tmp_path / "model.json"
    path.write_text(json.dumps(d))
    (tmp_path / "cat.csv").write_text("id,price,cost\np1,5,2\np2,4,1\np3,3,1\n")
    with pytest.raises(InstanceError) as exc:
        load_choice_model(path, ("p1", "p2", "p3"))
    assert exc.value.field == field and words in str(exc.value)
    rc = main(
        [
            "approx",
            str(path),
            "--catalogue",
            str(tmp_path / "cat.csv"),
            "-t",
            "10",
            "-o",
            str(tmp_path / "out.json"),
        ]
    )
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1
    assert str(path) in err and field in err
    assert not (tmp_path / "out.json").exists()


def test_catalogue_errors_name_row_and_column(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text("id,price,cost,salvage\na,5,2,\nb,-1,1,0\n")
    with pytest.raises(InstanceError, match=r"c.csv: row 3, column price: must be > 0"):
        read_catalogue(p)
    p.write_text("id,price,cost\na,5,2\na,4,1\n")
    with pytest.raises(InstanceError, match=r"row 3, column id: duplicate"):
        read_catalogue(p)
    p.write_text("id,price\na,5\n")
    with pytest.raises(InstanceError, match=r"column cost"):
        read_catalogue(p)
    p.write_text("id,price,cost,salvage,fixed_cost,vendor,category\na,5,2,1,3,v1,\n")
    cat = read_catalogue(p)
    assert cat.ids == ("a",) and cat.salvage[0] == 1 and cat.fixed_cost[0] == 3
    assert cat.vendor == ("v1",) and cat.category == (None,)


def test_model_classes_reject_bad_parameters():
    from assortopt.exceptions import OptionError

    with pytest.raises(OptionError):
        NestedLogit(IDS, [0, 0, 0], [0, 0, 1], [0.5, 1.2])
    with pytest.raises(OptionError):
        LatentClassMNL(IDS, [0.5, 0.6], np.zeros((2, 3)))
    with pytest.raises(OptionError):
        RankedLists(IDS, [0.5], [[0, 0]])
    with pytest.raises(OptionError):
        MNLModel(IDS, [0, np.inf, 0])
