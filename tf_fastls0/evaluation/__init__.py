"""Evaluation of l0 robustness: Sparse-AutoAttack and its single attacks on a trained model
(SPEC §1-4), with a RobustBench-shaped ``report.json``, sanity checks, sharding and resuming.

Command line: ``python -m tf_fastls0.evaluate`` (one run or shard) and
``python -m tf_fastls0.evaluation.merge`` (shard reports -> one report).
"""

from tf_fastls0.evaluation.budgets import BUDGETS, budget_name
from tf_fastls0.evaluation.config import ATTACK_NAMES, EvalConfig
from tf_fastls0.evaluation.merging import MergeError, merge_reports
from tf_fastls0.evaluation.report import comparable, markdown_table
from tf_fastls0.evaluation.runner import REPORT_FILE, evaluate_model
from tf_fastls0.models.loading import ModelError, load_model

__all__ = ["ATTACK_NAMES", "BUDGETS", "REPORT_FILE", "EvalConfig", "MergeError", "ModelError",
           "budget_name", "comparable", "evaluate_model", "load_model", "markdown_table",
           "merge_reports"]
