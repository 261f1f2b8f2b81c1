"""Loss grids around the weights, filter-normalised directions, and the PNG plots."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_fastls0.analysis import landscape
from tf_fastls0.analysis import loss_parts
from tf_fastls0.analysis import plots


@pytest.fixture(scope="module")
def problem():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6, 6, 2)), keras.layers.Conv2D(3, 3), keras.layers.Flatten(),
                              keras.layers.Dense(4)])
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(10, 6, 6, 2)).astype(np.float32)
    labels = rng.integers(0, 4, 10).astype(np.int32)
    return model, images, labels


def mean_ce(model, images, labels):
    logits = model(images, training=False)
    return float(tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)))


def test_filter_normalised_direction_matches_filter_norms(problem):
    model, _, _ = problem
    variables = model.trainable_variables
    first = landscape.filter_normalised_direction(variables, seed=3, index=0)
    second = landscape.filter_normalised_direction(variables, seed=3, index=1)
    for variable, direction, other in zip(variables, first, second):
        if variable.shape.rank == 1:
            assert not np.any(direction.numpy())
            continue
        axes = tuple(range(variable.shape.rank - 1))
        np.testing.assert_allclose(np.sqrt(np.sum(direction.numpy() ** 2, axis=axes)),
                                   np.sqrt(np.sum(variable.numpy() ** 2, axis=axes)), rtol=1e-5)
        assert not np.allclose(direction, other)


def test_grid_shape_centre_corner_and_restored_weights(problem):
    model, images, labels = problem
    variables = model.trainable_variables
    before = [v.numpy().copy() for v in variables]
    directions = [landscape.filter_normalised_direction(variables, seed=1, index=i) for i in (0, 1)]
    parts = loss_parts.fixed_input_losses(images, labels, batch_size=4)
    grid = landscape.loss_grid(model, parts, directions, steps=5, extent=0.5)
    assert grid.losses.shape == (5, 5)
    np.testing.assert_allclose(grid.alphas, [-0.5, -0.25, 0.0, 0.25, 0.5])
    for variable, value in zip(variables, before):
        np.testing.assert_array_equal(variable.numpy(), value)
    np.testing.assert_allclose(grid.losses[2, 2], mean_ce(model, images, labels), rtol=1e-5)
    for variable, value, v1, v2 in zip(variables, before, *directions):
        variable.assign(value - 0.5 * v1.numpy() + 0.5 * v2.numpy())
    corner = mean_ce(model, images, labels)
    for variable, value in zip(variables, before):
        variable.assign(value)
    np.testing.assert_allclose(grid.losses[0, 4], corner, rtol=1e-5)
    assert not np.isclose(grid.losses[0, 4], grid.losses[2, 2])


def test_plots_write_png_files(tmp_path):
    grid = landscape.LossGrid(np.linspace(-1, 1, 5), np.linspace(-1, 1, 5),
                              np.add.outer(np.linspace(-1, 1, 5) ** 2, np.linspace(-1, 1, 5) ** 2))
    plots.plot_landscape(grid, tmp_path / "surface.png", title="test")
    plots.plot_spectra({"a": [5.0, 2.0, 1.0], "b": [50.0, 20.0, 3.0]}, tmp_path / "spectra.png")
    for name in ("surface.png", "spectra.png"):
        data = (tmp_path / name).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 1000
