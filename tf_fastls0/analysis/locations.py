"""Where two sparse attacks put their pixels (SPEC section 8, location analysis).

For image i let A_i and B_i be the sets of positions (h, w) where the two perturbed images differ
from the clean one in any channel (e.g. 1-step sPGD and sAA). Then
- normalised l0 distance ``|A_i xor B_i| / (|A_i| + |B_i|)``: 0 for the same set, 1 for disjoint sets;
- overlap rate ``|A_i and B_i| / max(|A_i|, |B_i|)``: 1 for the same set, 0 for disjoint sets.
With both sets of the budget's size k these are ``||M_a - M_b||_0 / 2k`` and ``|A and B| / k``, and
overlap = 1 - distance. Images where both sets are empty have neither and are left out of means.
"""

from typing import NamedTuple

import numpy as np


class LocationStats(NamedTuple):
    """Means over the images where either attack perturbed something; ``counted`` is how many."""
    distance: float
    overlap: float
    counted: int


def perturbed_positions(clean, perturbed):
    """bool ``[N, H, W]``: positions where ``perturbed`` differs from ``clean`` in any channel."""
    return np.any(np.asarray(clean) != np.asarray(perturbed), axis=-1)


def _sizes(positions_a, positions_b):
    a, b = (_flat(positions) for positions in (positions_a, positions_b))
    return a.sum(1), b.sum(1), (a & b).sum(1), (a ^ b).sum(1)


def _flat(positions):
    """``[N, H, W] -> [N, H*W]``, also for N = 0 (no image counted), where -1 cannot be inferred."""
    positions = np.asarray(positions, bool)
    return positions.reshape(positions.shape[0], int(np.prod(positions.shape[1:])))


def normalised_l0_distance(positions_a, positions_b):
    """Per image ``|A xor B| / (|A| + |B|)`` (float ``[N]``, NaN where both are empty)."""
    size_a, size_b, _, differ = _sizes(positions_a, positions_b)
    with np.errstate(invalid="ignore", divide="ignore"):
        return differ / (size_a + size_b)


def overlap_rate(positions_a, positions_b):
    """Per image ``|A and B| / max(|A|, |B|)`` (float ``[N]``, NaN where both are empty)."""
    size_a, size_b, common, _ = _sizes(positions_a, positions_b)
    with np.errstate(invalid="ignore", divide="ignore"):
        return common / np.maximum(size_a, size_b)


def location_stats(clean, perturbed_a, perturbed_b):
    """Mean distance and overlap between two attacks' pixel sets on the same clean images."""
    positions_a = perturbed_positions(clean, perturbed_a)
    positions_b = perturbed_positions(clean, perturbed_b)
    distance = normalised_l0_distance(positions_a, positions_b)
    counted = int(np.sum(~np.isnan(distance)))
    if counted == 0:
        return LocationStats(float("nan"), float("nan"), 0)
    overlap = overlap_rate(positions_a, positions_b)
    return LocationStats(float(np.nanmean(distance)), float(np.nanmean(overlap)), counted)
