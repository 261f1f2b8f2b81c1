"""The budget presets and the flagfiles that run them agree; budget names."""

import pytest

from tf_fastls0.evaluation import BUDGETS, budget_name

FLAGFILES = {"saa_quick": "eval_quick.flags", "saa_paper": "eval_paper.flags"}


def _read_flagfile(path):
    lines = path.read_text().splitlines()
    values = dict(line[2:].split("=", 1) for line in lines if line.startswith("--"))
    return lines[0], values


@pytest.mark.parametrize("preset", sorted(BUDGETS))
def test_flagfile_matches_its_preset(preset, repo):
    first_line, values = _read_flagfile(repo / "configs" / FLAGFILES[preset])
    assert first_line.startswith(
        f"# python -m tf_fastls0.evaluate --flagfile=configs/{FLAGFILES[preset]}")
    budget = BUDGETS[preset]
    assert tuple(values["attacks"].split(",")) == budget["attacks"]
    assert int(values["iterations"]) == budget["iterations"]
    assert int(values["queries"]) == budget["queries"]
    assert int(values["n_examples"]) == budget["n_examples"]


def test_budget_names():
    assert budget_name(10_000, 10_000) == "paper"
    assert budget_name(BUDGETS["saa_quick"]["iterations"],
                       BUDGETS["saa_quick"]["queries"]) == "quick"
    assert budget_name(10_000, 300) == "custom"
    assert budget_name(BUDGETS["saa_paper"]["iterations"],
                       BUDGETS["saa_paper"]["queries"]) == "paper"
