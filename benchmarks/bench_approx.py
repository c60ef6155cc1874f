"""`assortopt approx` of a 1,000-product nested logit, end to end through the CLI (issue 17:
"in seconds"): wall time of the command writing JSON and writing ``.npz``, and, in process, the
time of the JSON text by the one-pass writer (`instance_json_text`) against the general path
(``dumps(instance_to_dict(inst))``, what `approx` used before), same text checked. One run; the
machine is shared, so compare the ratios measured here.

    python benchmarks/bench_approx.py [--products 1000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from assortopt.choice.files import save_choice_model
from assortopt.instance import instance_json_text, instance_to_dict, load_instance
from assortopt.jsonio import dumps
from assortopt.truth_families import generate_truth


def _cli(args: list[str], quiet: bool = False) -> float:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    t = time.perf_counter()
    out = subprocess.DEVNULL if quiet else None
    subprocess.run([sys.executable, "-m", "assortopt", *args], check=True, env=env, stdout=out)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--products", type=int, default=1000)
    n = ap.parse_args().products
    inst, model = generate_truth("nested-logit", n, 10 * n, 0)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        save_choice_model(model, d / "nl.json")
        rows = "".join(
            f"{i},{float(p)!r},{float(c)!r}\n"
            for i, p, c in zip(inst.ids, inst.price, inst.cost, strict=True)
        )
        (d / "cat.csv").write_text("id,price,cost\n" + rows)
        base = ["approx", str(d / "nl.json"), "--catalogue", str(d / "cat.csv"), "-t", str(10 * n)]
        t_import = _cli(["validate", "--help"], quiet=True)
        t_json = _cli([*base, "-o", str(d / "chain.json")])
        t_npz = _cli([*base, "-o", str(d / "chain.npz")])
        mb = (d / "chain.json").stat().st_size / 1e6
        chain = load_instance(d / "chain.npz")
    t_fast, t_slow = [], []
    for _ in range(2):  # alternated, the faster of two: the machine is shared
        t = time.perf_counter()
        fast = instance_json_text(chain)
        t_fast.append(time.perf_counter() - t)
        t = time.perf_counter()
        slow = dumps(instance_to_dict(chain))
        t_slow.append(time.perf_counter() - t)
    print(f"nested logit, N = {n}: {chain.transitions.nnz} transitions, JSON {mb:.1f} MB")
    print(f"CLI `assortopt validate --help` (interpreter start-up only): {t_import:.2f} s")
    print(f"CLI approx -o chain.json: {t_json:.2f} s; -o chain.npz: {t_npz:.2f} s")
    print(f"JSON text: one-pass writer {min(t_fast):.2f} s; general path {min(t_slow):.2f} s")
    print(f"ratio general / one-pass: {min(t_slow) / min(t_fast):.1f}x; same text: {fast == slow}")


if __name__ == "__main__":
    main()
