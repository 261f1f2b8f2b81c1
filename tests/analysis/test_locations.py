"""Location analysis: distance and overlap of perturbed pixel sets, by hand."""

import numpy as np

from tf_fastls0.analysis import locations


def perturb(clean, positions, channel=0):
    out = clean.copy()
    for h, w in positions:
        out[h, w, channel] = 1.0 - out[h, w, channel]
    return out


def test_identical_and_disjoint_sets():
    clean = np.full((1, 4, 4, 3), 0.25, np.float32)
    a = perturb(clean[0], [(0, 0), (1, 2), (3, 3)])[None]
    same_positions_other_values = perturb(clean[0], [(0, 0), (1, 2), (3, 3)], channel=2)[None]
    disjoint = perturb(clean[0], [(0, 1), (2, 2), (3, 0)])[None]
    identical = locations.location_stats(clean, a, same_positions_other_values)
    assert identical == locations.LocationStats(0.0, 1.0, 1)
    apart = locations.location_stats(clean, a, disjoint)
    assert apart == locations.LocationStats(1.0, 0.0, 1)


def test_partial_overlap_and_empty_images():
    clean = np.zeros((3, 3, 3, 1), np.float32)
    first = np.stack([perturb(clean[0], [(0, 0), (1, 1)]), perturb(clean[1], [(0, 0)]), clean[2]])
    second = np.stack([perturb(clean[0], [(1, 1), (2, 2)]), perturb(clean[1], [(0, 0), (2, 1)]), clean[2]])
    positions = locations.perturbed_positions(clean, first), locations.perturbed_positions(clean, second)
    # image 0: A = {00, 11}, B = {11, 22}: xor 2 of 4, common 1 of 2; image 1: A = {00}, B = {00, 21}:
    # xor 1 of 3, common 1 of 2; image 2: both empty.
    np.testing.assert_allclose(locations.normalised_l0_distance(*positions), [0.5, 1 / 3, np.nan])
    np.testing.assert_allclose(locations.overlap_rate(*positions), [0.5, 0.5, np.nan])
    stats = locations.location_stats(clean, first, second)
    np.testing.assert_allclose([stats.distance, stats.overlap], [(0.5 + 1 / 3) / 2, 0.5])
    assert stats.counted == 2


def test_no_images_give_empty_measures():
    none = np.zeros((0, 4, 4), bool)
    assert locations.normalised_l0_distance(none, none).shape == (0,)
    assert locations.overlap_rate(none, none).shape == (0,)
    clean = np.zeros((0, 4, 4, 3), np.float32)
    assert locations.location_stats(clean, clean, clean).counted == 0
