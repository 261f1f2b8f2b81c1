"""Spread over seeds: mean and sample standard deviation, and a mean line with a min-max band."""

import statistics

import numpy as np


def mean_and_sd(values):
    """``(mean, sample sd, n)`` of the values that are not None; sd is None below two values,
    everything None for none."""
    values = [v for v in values if v is not None]
    if not values:
        return None, None, 0
    sd = statistics.stdev(values) if len(values) > 1 else None
    return statistics.fmean(values), sd, len(values)


def plot_band(axis, xs, curves, colour, label):
    """The mean of ``curves`` (one value per x each) as a line, and a band from their lowest to
    their highest value at each x."""
    stacked = np.asarray(curves, dtype=float)
    axis.plot(xs, stacked.mean(axis=0), color=colour, marker="o", markersize=3,
              label=f"{label} ({len(curves)} seed{'' if len(curves) == 1 else 's'})")
    axis.fill_between(xs, stacked.min(axis=0), stacked.max(axis=0), color=colour, alpha=0.2,
                      linewidth=0)
