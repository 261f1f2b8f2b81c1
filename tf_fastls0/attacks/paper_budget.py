"""The papers' evaluation budget (SPEC §4) and sPGD's evaluation patience (SPEC §2.6), written
once.

Every attack's default budget, the sAA cascade's, the evaluation's (``EvalConfig``), the
analysis', the ART adapter's and the benchmark harness' paper flagfiles read these.
"""

ITERATIONS = 10_000  # white-box iterations per attack (each sPGD variant of sAA)
QUERIES = 10_000  # black-box queries per image (Sparse-RS)
PATIENCE = 3  # sPGD's mask-restart patience in evaluation (training's is 10)
