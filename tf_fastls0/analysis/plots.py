"""PNG figures for the analyses (matplotlib, Agg backend): a landscape surface + contour,
several models' Hessian spectra on one log-scale plot (the paper's Figure 2 style), gradient-norm
curves, histograms of per-image figures, and accuracy along the interpolation."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402


def plot_landscape(grid, path, title=""):
    """Saves a 3-D surface and a contour map of a ``landscape.LossGrid`` side by side to ``path``."""
    b, a = np.meshgrid(grid.betas, grid.alphas)
    figure = plt.figure(figsize=(11, 4.5))
    surface = figure.add_subplot(1, 2, 1, projection="3d")
    surface.plot_surface(a, b, grid.losses, cmap="viridis", linewidth=0)
    surface.set_xlabel("alpha (v1)")
    surface.set_ylabel("beta (v2)")
    surface.set_zlabel("loss")
    contour = figure.add_subplot(1, 2, 2)
    filled = contour.contourf(a, b, grid.losses, levels=30, cmap="viridis")
    figure.colorbar(filled, ax=contour)
    contour.set_xlabel("alpha (v1)")
    contour.set_ylabel("beta (v2)")
    figure.suptitle(title)
    figure.subplots_adjust(wspace=0.35)  # room for the surface's z label
    figure.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(figure)


def plot_spectra(spectra, path, title="Top Hessian eigenvalues"):
    """Saves each model's eigenvalues (``{name: values}``, largest first) on one log-scale plot.

    The log axis shows |eigenvalue|; a top eigenvalue that is negative or zero is a sign the power
    iteration did not converge, not something to plot.
    """
    figure, axis = plt.subplots(figsize=(6, 4))
    for name, values in spectra.items():
        values = np.abs(np.asarray(values, dtype=float))
        axis.plot(np.arange(1, len(values) + 1), values, marker="o", label=name)
    axis.set_yscale("log")
    axis.set_xlabel("rank")
    axis.set_ylabel("|eigenvalue|")
    axis.set_title(title)
    axis.legend()
    figure.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(figure)


def plot_gradient_norms(curves, path, robust_curves=None):
    """Each run's gradient norm by training step (``{name: Curve}``) on one log-scale axis; with
    ``robust_curves`` (``{name: Curve}`` of epoch robust accuracy) a second panel below."""
    panels = 2 if robust_curves else 1
    figure, axes = plt.subplots(panels, 1, figsize=(7, 3.5 * panels), squeeze=False)
    norm_axis = axes[0, 0]
    for name, curve in curves.items():
        norm_axis.plot(curve.steps, curve.values, label=name, linewidth=1)
    norm_axis.set_yscale("log")
    norm_axis.set_xlabel("training step")
    norm_axis.set_ylabel("||dL/dtheta||")
    norm_axis.set_title("Gradient norm")
    norm_axis.legend()
    if robust_curves:
        robust_axis = axes[1, 0]
        for name, curve in robust_curves.items():
            robust_axis.plot(curve.steps + 1, curve.values, marker="o", label=name)
        robust_axis.set_xlabel("epoch")
        robust_axis.set_ylabel("robust accuracy")
        robust_axis.set_title("Validation robust accuracy")
        robust_axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(figure)


def plot_histograms(panels, path, title=""):
    """Side-by-side histograms: ``{panel title: {name: values}}`` (NaNs dropped), values in [0, 1]."""
    figure, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.8), squeeze=False)
    bins = np.linspace(0.0, 1.0, 21)
    for axis, (panel, series) in zip(axes[0], panels.items()):
        for name, values in series.items():
            values = np.asarray(values, dtype=float)
            axis.hist(values[~np.isnan(values)], bins=bins, alpha=0.6, label=name)
        axis.set_xlabel(panel)
        axis.set_ylabel("images")
        axis.legend()
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(figure)


def plot_interpolation(accuracies, path, reference=None):
    """Accuracy on ``x + a * delta`` against a (``{name: {a: accuracy}}``); ``reference`` =
    ``{name: sAA robust accuracy}`` drawn as dashed lines in the same colour."""
    figure, axis = plt.subplots(figsize=(6, 4))
    for name, by_alpha in accuracies.items():
        alphas = sorted(by_alpha)
        line, = axis.plot(alphas, [by_alpha[a] for a in alphas], marker="o", label=name)
        if reference and name in reference:
            axis.axhline(reference[name], linestyle="--", color=line.get_color(),
                         label=f"{name}: sAA")
    axis.set_xlabel("a (input x + a * delta_1step)")
    axis.set_ylabel("accuracy")
    axis.set_ylim(-0.02, 1.02)
    axis.set_title("Accuracy along the 1-step perturbation")
    axis.legend()
    figure.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(figure)


def plot_distributions(series, path, xlabel, title=""):
    """Histograms of each ``{name: values}`` on one axis (e.g. per-example gradient distances)."""
    figure, axis = plt.subplots(figsize=(6, 4))
    for name, values in series.items():
        axis.hist(np.asarray(values, dtype=float), bins=20, alpha=0.6, label=name)
    axis.set_xlabel(xlabel)
    axis.set_ylabel("examples")
    axis.set_title(title)
    axis.legend()
    figure.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(figure)
