"""PNG figures for the analyses (matplotlib, Agg backend): a landscape surface + contour, and
several models' Hessian spectra on one log-scale plot (the paper's Figure 2 style)."""

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
