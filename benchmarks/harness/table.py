"""The comparison table as markdown and CSV: ours beside the paper's where it has a figure."""

import csv
import io

from benchmarks.paper_results import FIGURES
from tf_fastls0.attacks import registry

# (row key, markdown header); a column shows only if some row has it.
COLUMNS = (
    ("label", "run"),
    ("status", "status"),
    ("clean", "clean %"),
    *((attack.name, f"{attack.display} alone %") for attack in registry.stages()),
    ("cornersearch_n_examples", "CS images"),
    ("saa_after_spgd_unproj", "sAA: after sPGD-unproj %"),
    ("saa_after_spgd_proj", "sAA: after +sPGD-proj %"),
    ("saa", "sAA %"),
    ("train_attack_accuracy", "vs training attack %"),
    ("val_robust_best", "val robust: best %"),
    ("val_robust_last", "val robust: last %"),
    ("train_seconds", "train time"),
    ("epoch_seconds", "s/epoch"),
    ("epochs", "epochs"),
    ("eval_seconds", "eval time"),
)
TIME_KEYS = ("train_seconds", "eval_seconds", "paper_train_seconds")
CSV_KEYS = ("run", "label", "status", "model", "train_examples", "epochs", "clean",
            *(attack.name for attack in registry.stages()), "cornersearch_n_examples",
            "saa_after_spgd_unproj", "saa_after_spgd_proj", "saa", "robust",
            "train_attack_accuracy", "val_robust_best", "val_robust_last",
            "n_examples", "train_seconds", "epoch_seconds", "eval_seconds", "devices",
            "train_commit", "eval_commit") + tuple(
                f"paper_{name}" for name in FIGURES)


def columns_for(rows):
    """The (key, header) pairs to show: ours where some row has a value, each followed by the
    paper's figure for it where the paper has one for some row."""
    present = {key for row in rows for key, value in row.items() if value is not None}
    shown = []
    for key, header in COLUMNS:
        if key in present:
            shown.append((key, header))
        paper_key = f"paper_{key}"
        if paper_key in present:
            shown.append((paper_key, f"paper {header}"))
    return shown


def markdown(rows):
    shown = columns_for(rows)
    lines = ["| " + " | ".join(header for _, header in shown) + " |",
             "|" + "---|" * len(shown)]
    for row in rows:
        lines.append("| " + " | ".join(_cell(key, row.get(key)) for key, _ in shown) + " |")
    return "\n".join(lines)


def csv_text(rows):
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_KEYS, extrasaction="ignore",
                            lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: ("" if row.get(key) is None else row[key]) for key in CSV_KEYS})
    return buffer.getvalue()


def _cell(key, value):
    if value is None:
        return ""
    if key in TIME_KEYS:
        return format_duration(value)
    if key == "epoch_seconds":
        return f"{value:.1f}"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def format_duration(seconds):
    """``3h05m``, ``4m07s`` or ``12.3s``."""
    if seconds >= 3600:
        hours, rest = divmod(round(seconds), 3600)
        return f"{hours}h{rest // 60:02d}m"
    if seconds >= 60:
        minutes, rest = divmod(round(seconds), 60)
        return f"{minutes}m{rest:02d}s"
    return f"{seconds:.1f}s"
