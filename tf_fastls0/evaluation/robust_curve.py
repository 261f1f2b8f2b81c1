"""Robust accuracy at every budget k from a minimum-norm attack's per-image pixel counts.

An image is robust at k when the model classifies it correctly and the attack found no fooling
image with at most k changed pixels. ``report.json`` carries the curve as ``robust_acc_by_k``
(attack -> {k: percent}) and ``robust_vs_k.png`` draws it.
"""

import os

import numpy as np

from tf_fastls0.attacks import NOT_FOUND
from tf_fastls0.utils.atomic import atomic_path

ROBUST_VS_K_FILE = "robust_vs_k.png"


def robust_acc_by_k(min_pixels):
    """``{str(k): percent}`` for k = 0 .. the largest count found (at least 1): beyond it the
    curve stays flat. ``min_pixels``: [N] int, 0 for clean mistakes, ``NOT_FOUND`` if unfooled."""
    counts = np.asarray(min_pixels)
    if not len(counts):
        return {}
    found = counts[counts != NOT_FOUND]
    largest = max(int(found.max(initial=0)), 1)
    return {str(k): 100.0 * float(np.mean((counts == NOT_FOUND) | (counts > k)))
            for k in range(largest + 1)}


def plot_robust_vs_k(path, report):
    """Writes the report's robust-accuracy-by-k curves (one per minimum-norm attack) to ``path``,
    with the report's budget k marked and the fixed-budget attacks' robust accuracy there."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axis = plt.subplots(figsize=(5, 3.5))
    for name, curve in report["robust_acc_by_k"].items():
        points = sorted((int(k), value) for k, value in curve.items())  # JSON keys sort as text
        axis.step([k for k, _ in points], [value for _, value in points], where="post",
                  label=name)
    axis.axvline(report["k"], color="grey", linestyle=":", label=f"k = {report['k']}")
    for name, result in report.get("attacks", {}).items():  # fixed-budget attacks: one point
        if name not in report["robust_acc_by_k"] and result.get("robust_acc") is not None:
            axis.plot([report["k"]], [result["robust_acc"]], marker="o", linestyle="none",
                      label=f"{name} at k = {report['k']}: {result['robust_acc']:.1f}%")
    axis.set_xlabel("k (changed pixels)")
    axis.set_ylabel("robust accuracy (%)")
    axis.set_ylim(0, 100)
    axis.set_title(f"{report.get('architecture', '')} on {report.get('dataset', '')}: "
                   f"clean {report['clean_acc']:.1f}%", fontsize=9)
    axis.legend(fontsize=8)
    figure.tight_layout()
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as handle:
            figure.savefig(handle, format="png", dpi=100)
    plt.close(figure)
    return os.path.abspath(path)
