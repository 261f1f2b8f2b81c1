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


def style_epoch_axis(axis, name):
    """An accuracy-per-epoch panel: integer epochs, 0-100 %, a light grid."""
    axis.set_xlabel("epoch")
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_title(name, fontsize=10)
    axis.set_ylim(0, 100)
    axis.grid(alpha=0.3)


PANELS = (("val_robust_by_epoch", "robust validation (%)"),
          ("train_attack_by_epoch", "vs training attack (%)"),
          ("val_clean_by_epoch", "clean validation (%)"))


def robust_by_epoch(rows, path, title):
    """Writes, per epoch and run, the robust validation accuracy beside the accuracy against the
    training attack and the clean validation accuracy to ``path``: catastrophic overfitting is a
    robust curve that drops towards 0 while the training-attack curve stays high. Returns whether
    any run had a robust validation curve."""
    runs = [row for row in rows if row.get("val_robust_by_epoch")]
    figure, axes = plt.subplots(1, len(PANELS), figsize=(15, 4.8), sharey=True)
    styles = ["-", "--", ":", "-."]
    for axis, (key, name) in zip(axes, PANELS):
        for i, row in enumerate(runs):
            values = row.get(key) or []
            axis.plot(range(1, len(values) + 1), values, marker="o", markersize=3,
                      linestyle=styles[(i // 10) % len(styles)],
                      color=plt.get_cmap("tab10")(i % 10), label=row["label"])
        style_epoch_axis(axis, name)
    axes[0].set_ylabel("accuracy (%)")
    if runs:
        axes[0].legend(fontsize=7, ncol=2 if len(runs) > 8 else 1, loc="best")
    else:
        axes[0].text(0.5, 0.5, "no run logged robust validation", ha="center",
                     transform=axes[0].transAxes)
    figure.suptitle(textwrap.fill(title, 120) + "\nper epoch: robust validation (quick sAA on "
                    "the validation images), accuracy against the training attack, clean "
                    "validation", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return bool(runs)
