"""Named sAA budgets (SPEC §4): the paper's, and a quick one that finishes on a CPU.

Each preset matches a flagfile: ``configs/eval_quick.flags`` and ``configs/eval_paper.flags``.
"""

from tf_fastls0.attacks import paper_budget

BUDGETS = {
    "saa_quick": {"attacks": ("saa",), "iterations": 100, "queries": 300, "n_examples": 500},
    "saa_paper": {"attacks": ("saa",), "iterations": paper_budget.ITERATIONS,
                  "queries": paper_budget.QUERIES, "n_examples": 10_000},
}
QUICK, PAPER = BUDGETS["saa_quick"], BUDGETS["saa_paper"]


def budget_name(iterations, queries):
    """"paper" for the paper's iterations and queries, "quick" for the quick preset's, else
    "custom"."""
    for name, budget in (("paper", PAPER), ("quick", QUICK)):
        if (iterations, queries) == (budget["iterations"], budget["queries"]):
            return name
    return "custom"
