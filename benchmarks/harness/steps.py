"""Brings one run up to date: trains it (or lets the trainer resume it) unless it is finished,
then evaluates it at the table's budget unless that evaluation is finished.

A run is finished when its ``summary.json`` exists (and the harness last trained it with the same
trainer command, if it ever did) and ``report.json`` of a complete evaluation at this budget
exists. Nothing finished is redone; anything half done is resumed by the trainer (from its last
checkpoint) or the evaluator (``--resume``, from ``eval_state.npz``).
"""

import dataclasses
import os
from typing import Callable, Tuple

from benchmarks.harness import ledger as ledger_lib
from benchmarks.harness import rows as rows_lib
from benchmarks.harness.processes import Deadline, log_tail, python_module, run_logged, \
    run_parallel
from benchmarks.harness.specs import EvalBudget, evaluator_argv, run_dir, trainer_argv

FINISHED, STOPPED, FAILED = "finished", "stopped", "failed"


@dataclasses.dataclass(frozen=True)
class Plan:
    """What every run of one table shares."""
    runs_dir: str
    logs_dir: str
    train_flags: Tuple[str, ...]
    eval_flags: Tuple[str, ...]
    budget: EvalBudget
    eval_shards: int = 1


def needs_training(spec, plan):
    directory = run_dir(plan.runs_dir, spec)
    if not os.path.exists(os.path.join(directory, rows_lib.SUMMARY_FILE)):
        return True
    recorded = ledger_lib.read_ledger(directory).get("train_argv")
    return recorded is not None and recorded != trainer_argv(spec, plan.runs_dir, plan.train_flags)


def needs_evaluation(spec, plan):
    return any(rows_lib.finished_report(plan.runs_dir, spec, part) is None
               for part in plan.budget.parts())


def needs_work(spec, plan):
    return needs_training(spec, plan) or needs_evaluation(spec, plan)


def bring_up_to_date(spec, plan, deadline: Deadline, say: Callable[[str], None]):
    """Trains and evaluates ``spec`` as needed; returns (status, whether anything was run)."""
    worked = False
    if needs_training(spec, plan):
        worked = True
        status = _train(spec, plan, deadline, say)
        if status != FINISHED:
            return status, worked
    else:
        say(f"{spec.name}: already trained ({rows_lib.summary_path(plan.runs_dir, spec)}); "
            "not retraining")
    for part in plan.budget.parts():
        if rows_lib.finished_report(plan.runs_dir, spec, part) is None:
            worked = True
            status = _evaluate(spec, dataclasses.replace(plan, budget=part), deadline, say)
            if status != FINISHED:
                return status, worked
        else:
            say(f"{spec.name}: already evaluated "
                f"({rows_lib.report_path(plan.runs_dir, spec, part)})")
    return FINISHED, worked


def _train(spec, plan, deadline, say):
    directory = run_dir(plan.runs_dir, spec)
    argv = trainer_argv(spec, plan.runs_dir, plan.train_flags)
    log_path = _log_path(plan, spec, "train")
    say(f"{spec.name}: training (log: {log_path})")
    outcome = run_logged(python_module("tf_fastls0.train", argv), log_path, deadline)
    ledger_lib.record(directory, "train", outcome, argv)
    if outcome.timed_out:
        say(f"{spec.name}: stopped at the deadline after {outcome.seconds:.0f}s of training; "
            "run again to resume from its last checkpoint")
        return STOPPED
    if not outcome.ok or not os.path.exists(os.path.join(directory, rows_lib.SUMMARY_FILE)):
        say(f"{spec.name}: training failed (exit {outcome.returncode}); end of {log_path}:\n"
            f"{log_tail(log_path)}")
        return FAILED
    say(f"{spec.name}: trained in {outcome.seconds:.0f}s")
    return FINISHED


def _evaluate(spec, plan, deadline, say):
    directory = run_dir(plan.runs_dir, spec)
    eval_dir = os.path.join(directory, plan.budget.folder_name)
    log_path = _log_path(plan, spec, "eval")
    say(f"{spec.name}: evaluating, {_budget_text(plan.budget)} (log: {log_path})")
    if plan.eval_shards == 1:
        outcome = run_logged(python_module("tf_fastls0.evaluate", evaluator_argv(
            directory, eval_dir, plan.budget, plan.eval_flags)), log_path, deadline)
    else:
        outcome = _evaluate_shards(directory, eval_dir, plan, deadline, log_path)
    ledger_lib.record(directory, plan.budget.folder_name, outcome)
    if outcome.timed_out:
        say(f"{spec.name}: evaluation stopped at the deadline; run again to resume it")
        return STOPPED
    if not outcome.ok or rows_lib.finished_report(plan.runs_dir, spec, plan.budget) is None:
        say(f"{spec.name}: evaluation failed (exit {outcome.returncode}); end of {log_path}:\n"
            f"{log_tail(log_path)}")
        return FAILED
    say(f"{spec.name}: evaluated in {outcome.seconds:.0f}s")
    return FINISHED


def _evaluate_shards(directory, eval_dir, plan, deadline, log_path):
    """One evaluator per shard side by side, shard i on GPU i, then their reports merged."""
    count = plan.eval_shards
    shard_dirs = [os.path.join(eval_dir, f"shard{i}") for i in range(count)]
    commands = [python_module("tf_fastls0.evaluate", evaluator_argv(
        directory, shard_dirs[i], plan.budget, plan.eval_flags, shard=(i, count)))
        for i in range(count)]
    logs = [log_path.replace(".log", f".shard{i}.log") for i in range(count)]
    outcomes = run_parallel(commands, logs, deadline,
                            [{"CUDA_VISIBLE_DEVICES": str(i)} for i in range(count)])
    failed = next((o for o in outcomes if not o.ok), None)
    if failed is not None:
        with open(log_path, "a") as log:
            log.write("".join(f"--- shard {i} (exit {o.returncode}):\n{log_tail(path)}"
                              for i, (o, path) in enumerate(zip(outcomes, logs))))
        return failed
    merge = run_logged(python_module("tf_fastls0.evaluation.merge", [
        f"--reports={','.join(shard_dirs)}",
        f"--output={os.path.join(eval_dir, rows_lib.REPORT_FILE)}"]), log_path, deadline)
    return merge._replace(seconds=max(o.seconds for o in outcomes) + merge.seconds)


def _log_path(plan, spec, kind):
    return os.path.join(plan.logs_dir, f"{spec.name}.{kind}.log")


def _budget_text(budget):
    return (f"eps {budget.eps}, {'+'.join(budget.attacks)}, {budget.iterations} iterations, "
            f"{budget.queries} queries, {budget.n_examples} images, seed {budget.seed}")
