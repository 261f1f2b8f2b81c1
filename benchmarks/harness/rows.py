"""One result row per run, read back from the files the trainer and the evaluator wrote.

Accuracies are in percent. ``train_seconds`` is the wall time of every trainer invocation the
harness made for the run (start-up, tracing, per-epoch validation and export included; a run
trained in pieces adds its pieces up), or the trainer's own ``wall_seconds`` for a run trained
outside the harness; ``train_commit`` and ``eval_commit`` are the commits those invocations ran
at. ``epoch_seconds`` is the median epoch time (training plus the clean validation; the robust
validation callback runs after the epoch timer), over every epoch, also those of earlier pieces
(read from TensorBoard then).
``val_robust_by_epoch`` is the trainer's per-epoch robust validation accuracy (a quick sAA on a
few validation images, from TensorBoard), beside ``val_clean_by_epoch`` (clean validation) and
``train_attack_by_epoch`` (accuracy against the training attack); ``val_robust_best`` and ``val_robust_last`` summarise it: a
last value far below the best is catastrophic overfitting, as is a ``train_attack_accuracy``
(accuracy against the method's own training attack in the last epoch) far above sAA's.
"""

import json
import os
import statistics

from benchmarks import paper_results
from benchmarks.harness import ledger as ledger_lib
from benchmarks.harness.specs import FEWER_IMAGES, run_dir
from tf_fastls0.attacks import CASCADES, registry

SUMMARY_FILE = "summary.json"
REPORT_FILE = "report.json"
CASCADE = CASCADES["saa"]


def read_json(path):
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def summary_path(runs_dir, spec):
    return os.path.join(run_dir(runs_dir, spec), SUMMARY_FILE)


def report_path(runs_dir, spec, budget):
    return os.path.join(run_dir(runs_dir, spec), budget.folder_name, REPORT_FILE)


def finished_report(runs_dir, spec, budget):
    report = read_json(report_path(runs_dir, spec, budget))
    return report if report is not None and budget.matches(report) else None


def collect_row(spec, runs_dir, budget, table, status):
    """The row of ``spec``: what its run folder holds now, with the paper's figures if any."""
    directory = run_dir(runs_dir, spec)
    summary = read_json(os.path.join(directory, SUMMARY_FILE))
    parts = [(part, finished_report(runs_dir, spec, part)) for part in budget.parts()]
    ledger = ledger_lib.read_ledger(directory)
    paper = paper_results.paper_row(table, spec.name)
    row = {"run": spec.name, "label": paper.label if paper else spec.name, "status": status}
    if summary is not None:
        row.update(_training_columns(directory, summary, ledger))
    row.update(_robust_validation_columns(directory))  # also of a run stopped or still training
    for part, report in parts:
        if report is None:
            continue
        apart = set(part.attacks) <= set(FEWER_IMAGES)
        columns = _attack_columns(report) if apart else _evaluation_columns(report)
        # The ledger counts every piece of a resumed evaluation, the report its last piece only:
        # the report's figure stands in only where the harness did not run the evaluation.
        report_seconds = columns.pop("eval_seconds", None)
        part_seconds = ledger_lib.invocation_seconds(ledger, part.folder_name)
        if part_seconds is None:
            part_seconds = report_seconds
        row.update(columns)
        if part_seconds is not None:  # summed over the budget's parts
            row["eval_seconds"] = row.get("eval_seconds", 0.0) + part_seconds
        commits = ledger_lib.invocation_commits(ledger, part.folder_name)
        row["eval_commit"] = ",".join(c for c in (row.get("eval_commit"), commits) if c)
    if paper is not None:
        row.update({f"paper_{name}": getattr(paper, name) for name in paper_results.FIGURES
                    if getattr(paper, name) is not None})
    return row


def _training_columns(directory, summary, ledger):
    config = summary.get("config", {})
    epochs = _all_epoch_seconds(directory, summary)
    train_seconds = ledger_lib.invocation_seconds(ledger, "train")
    if train_seconds is None:  # trained outside the harness: the trainer's own figure
        train_seconds = summary.get("wall_seconds")
    attack_accuracy = (summary.get("final_metrics") or {}).get("adversarial_accuracy")
    return {
        "train_commit": ledger_lib.invocation_commits(ledger, "train"),
        "epochs": config.get("epochs"),
        "train_attack_accuracy": None if attack_accuracy is None else 100 * attack_accuracy,
        "train_seconds": train_seconds,
        "epoch_seconds": statistics.median(epochs) if epochs else None,
        "train_examples": summary.get("num_train_examples"),
        "model": f"{config.get('model')} x{config.get('width')}",
        "devices": ",".join(d.split("device:")[-1] for d in summary.get("devices", [])),
    }


def _robust_validation_columns(directory):
    """The per-epoch curves from TensorBoard: robust validation (with its best and last), clean
    validation accuracy and accuracy against the training attack."""
    try:
        from tf_fastls0.analysis.tensorboard_logs import read_scalars, robust_accuracy_curve
        by_epoch = _percent(robust_accuracy_curve(directory))
        clean = _percent(read_scalars(os.path.join(directory, "logs", "validation"),
                                      "epoch_accuracy"))
        attack = _percent(read_scalars(os.path.join(directory, "logs", "train"),
                                       "epoch_adversarial_accuracy"))
    except Exception:  # noqa: BLE001  (a missing or unreadable log only costs the columns)
        return {}
    if not by_epoch:
        return {}
    return {"val_robust_by_epoch": by_epoch, "val_robust_best": max(by_epoch),
            "val_robust_last": by_epoch[-1], "val_clean_by_epoch": clean,
            "train_attack_by_epoch": attack}


def _percent(curve):
    return [round(100 * float(v), 4) for v in curve.values]


def _all_epoch_seconds(directory, summary):
    seconds = list(summary.get("epoch_seconds") or [])
    epochs = summary.get("config", {}).get("epochs") or 0
    if len(seconds) >= epochs:
        return seconds
    try:  # resumed: the summary only has the last piece's epochs; TensorBoard has them all
        from tf_fastls0.analysis.tensorboard_logs import read_scalars
        curve = read_scalars(os.path.join(directory, "logs", "train"), "epoch_epoch_seconds")
        return [float(v) for v in curve.values] or seconds
    except Exception:  # noqa: BLE001  (a missing or unreadable log only costs the column)
        return seconds


def _evaluation_columns(report):
    attacks = report["attacks"]
    columns = {"clean": report["clean_acc"], "robust": report["robust_acc"],
               "n_examples": report["n_examples"],
               "eval_seconds": report.get("wall_seconds")}
    if "saa" in attacks:
        columns["saa"] = attacks["saa"]["robust_acc"]
        for stage in CASCADE[:-1]:
            if stage in attacks["saa"].get("stages", {}):
                columns[f"saa_after_{stage}"] = attacks["saa"]["stages"][stage]["robust_acc"]
    columns.update(_attack_columns(report))
    return columns


def _attack_columns(report):
    """Each single attack of the registry run alone: its robust accuracy and, where it saw fewer
    images than the row's other attacks, how many (``<name>_n_examples``)."""
    columns = {}
    for attack in registry.stages():
        if attack.name in report["attacks"]:
            columns[attack.name] = report["attacks"][attack.name]["robust_acc"]
            if attack.name in FEWER_IMAGES:
                columns[f"{attack.name}_n_examples"] = report["n_examples"]
    return columns
