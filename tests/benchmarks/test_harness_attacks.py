"""The harness runs every attack of the stage table: CornerSearch apart on the paper's 1,000
images at most, and each attack's column beside the paper's figure."""

import json
import os

from benchmarks.harness import rows, table
from benchmarks.harness.specs import EvalBudget, RunSpec
from tf_fastls0.attacks.cornersearch import EVALUATION_IMAGES


def test_cornersearch_is_evaluated_apart_on_at_most_the_paper_s_images():
    budget = EvalBudget(attacks=("saa", "cornersearch", "saif"), n_examples=5000)
    common, apart = budget.parts()
    assert common.attacks == ("saa", "saif") and common.n_examples == 5000
    assert apart.attacks == ("cornersearch",) and apart.n_examples == EVALUATION_IMAGES
    assert EvalBudget(attacks=("cornersearch",), n_examples=200).parts()[0].n_examples == 200
    plain = EvalBudget(attacks=("saa", "rs"))
    assert plain.parts() == [plain]  # tables without CornerSearch keep their folders


def _report(budget, attacks, n_examples):
    return {"complete": True, "clean_acc": 50.0, "robust_acc": 10.0, "n_examples": n_examples,
            "settings": {"eps": budget.eps, "attacks": list(budget.attacks),
                         "iterations": budget.iterations, "queries": budget.queries,
                         "n_examples_requested": budget.n_examples, "seed": budget.seed},
            "attacks": {name: {"robust_acc": value} for name, value in attacks.items()}}


def test_a_row_gathers_every_part_and_the_paper_s_cs_and_saif(tmp_path):
    budget = EvalBudget(attacks=("saa", "saif", "cornersearch"), n_examples=2000)
    spec = RunSpec("sat_20step", "unused.flags")
    common, apart = budget.parts()
    for part, attacks in ((common, {"saa": {"robust_acc": 20.0}, "saif": 35.0}),
                          (apart, {"cornersearch": 30.0})):
        folder = tmp_path / spec.name / part.folder_name
        os.makedirs(folder)
        report = _report(part, {name: value if isinstance(value, float) else value["robust_acc"]
                                for name, value in attacks.items()}, part.n_examples)
        (folder / rows.REPORT_FILE).write_text(json.dumps(report))
    row = rows.collect_row(spec, str(tmp_path), budget, "table4a", "finished")
    assert row["saif"] == 35.0 and row["cornersearch"] == 30.0 and row["saa"] == 20.0
    assert row["cornersearch_n_examples"] == EVALUATION_IMAGES and row["n_examples"] == 2000
    keys = [key for key, _ in table.columns_for([row])]
    for name in ("cornersearch", "saif"):
        assert keys[keys.index(name) + 1] == f"paper_{name}"  # the paper's figure beside ours
    assert "CS alone %" in table.markdown([row]) and "paper SAIF alone %" in table.markdown([row])
