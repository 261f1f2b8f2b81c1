"""Named sAA budgets (SPEC §4): the paper's, and a quick one that finishes on a CPU.

Each preset matches a flagfile: ``configs/eval_quick.flags`` and ``configs/eval_paper.flags``.
"""

PAPER_ITERS = 10_000
PAPER_RS_QUERIES = 10_000

BUDGETS = {
    "saa_quick": {"attacks": ("saa",), "iters": 100, "rs_queries": 300, "n_examples": 500},
    "saa_paper": {"attacks": ("saa",), "iters": PAPER_ITERS, "rs_queries": PAPER_RS_QUERIES,
                  "n_examples": 10_000},
}


def budget_name(iters, rs_queries):
    """"paper" for 10,000 sPGD iterations and 10,000 Sparse-RS queries, "quick" for the quick
    preset's, else "custom"."""
    if (iters, rs_queries) == (PAPER_ITERS, PAPER_RS_QUERIES):
        return "paper"
    quick = BUDGETS["saa_quick"]
    if (iters, rs_queries) == (quick["iters"], quick["rs_queries"]):
        return "quick"
    return "custom"
