"""Robust accuracy against training time, one point per run (and the paper's, where it gives
both figures), as a PNG."""

import textwrap

import matplotlib

matplotlib.use("Agg")  # no display: files only
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402


def robust_vs_time(rows, path, title):
    """Writes the plot to ``path``; returns whether any run had both figures to plot."""
    colours = {row["label"]: plt.get_cmap("tab10")(i % 10) for i, row in enumerate(rows)}
    ours = [(row["train_seconds"] / 60, row["saa"], row["label"]) for row in rows
            if row.get("train_seconds") is not None and row.get("saa") is not None]
    paper = [(row["paper_train_seconds"] / 60, row["paper_saa"], row["label"]) for row in rows
             if row.get("paper_train_seconds") is not None and row.get("paper_saa") is not None]
    panels = [("this run", ours)] + ([("paper (one RTX 6000 Ada)", paper)] if paper else [])
    figure, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 4.8), squeeze=False)
    for axis, (name, points) in zip(axes[0], panels):
        for minutes, accuracy, label in points:
            axis.scatter(minutes, accuracy, s=40, color=colours[label])
            axis.annotate(label, (minutes, accuracy), textcoords="offset points", xytext=(4, 4),
                          fontsize=7)
        axis.set_xlabel("training wall time (minutes)")
        axis.set_ylabel("sAA robust accuracy (%)")
        axis.set_ylim(bottom=0)
        # Room on the right for the labels of the slowest runs.
        axis.set_xlim(left=0, right=1.4 * max((m for m, _, _ in points), default=1.0))
        axis.set_title(name, fontsize=10)
        axis.grid(alpha=0.3)
        if not points:
            axis.text(0.5, 0.5, "no finished runs yet", ha="center", transform=axis.transAxes)
    figure.suptitle(textwrap.fill(title, 90), fontsize=11)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return bool(ours)


def robust_by_epoch(rows, path, title):
    """Writes each run's per-epoch robust validation accuracy to ``path`` (the view in which
    catastrophic overfitting shows: a curve that drops towards 0 and stays there); returns
    whether any run had such a curve."""
    curves = [(row["label"], row["val_robust_by_epoch"]) for row in rows
              if row.get("val_robust_by_epoch")]
    figure, axis = plt.subplots(figsize=(7.5, 4.8))
    styles = ["-", "--", ":", "-."]
    for i, (label, accuracies) in enumerate(curves):
        axis.plot(range(1, len(accuracies) + 1), accuracies, marker="o", markersize=3,
                  linestyle=styles[(i // 10) % len(styles)], color=plt.get_cmap("tab10")(i % 10),
                  label=label)
    axis.set_xlabel("epoch")
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_ylabel("robust validation accuracy (%)")
    axis.set_ylim(bottom=0)
    axis.grid(alpha=0.3)
    if curves:
        axis.legend(fontsize=7, ncol=2 if len(curves) > 8 else 1, loc="best")
    else:
        axis.text(0.5, 0.5, "no run logged robust validation", ha="center",
                  transform=axis.transAxes)
    axis.set_title(textwrap.fill(title, 80) + "\nper-epoch sPGD robust accuracy on the validation "
                   "images", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return bool(curves)
