"""ATTA (training/atta_buffer.py): the carried perturbation follows its pixels through the
augmentation, the next epoch's attack starts from it, and a resumed run carries on exactly."""

import numpy as np
import tensorflow as tf
import pytest

from tf_fastls0 import data as data_lib
from tf_fastls0.data.pipeline import random_crop_and_flip
from tf_fastls0.training import atta_buffer
from tf_fastls0.training import recipe as recipe_lib
from tf_fastls0.training.atta_buffer import PerturbationBuffer
from tf_fastls0.training.config import TrainConfig
from tf_fastls0.training.run import build_trainer, make_checkpoint

H, W, C, EPS = 8, 8, 3, 5


def pixel_ids(index, epoch, seed):
    """Each pixel of example ``index``'s augmented image in ``epoch``: the id (1 + row * W +
    column) of the original pixel it shows, 0 for padding."""
    ids = tf.reshape(tf.range(1, H * W + 1, dtype=tf.int32), [H, W, 1])
    return random_crop_and_flip(ids, tf.constant(index, tf.int64), seed, epoch).numpy()[..., 0]


def test_a_stored_perturbation_moves_with_its_pixels_to_the_next_epochs_crop_and_flip():
    seed, indices = 3, np.arange(6)
    buffer = PerturbationBuffer(num_examples=6, image_shape=(H, W, C), eps=EPS, augment=True,
                                seed=seed)
    rng = np.random.default_rng(0)
    mask = np.zeros((6, H, W, 1), np.float32)
    for i in indices:
        mask[i].flat[rng.choice(H * W, EPS, replace=False)] = 1.0
    magnitude = rng.uniform(-1, 1, size=(6, H, W, C)).astype(np.float32)
    buffer.rows.assign(tf.tensor_scatter_nd_update(
        buffer.rows, indices[:, None], buffer.rows_of(indices, 0, mask, magnitude)))

    same_mask, same_magnitude = (t.numpy() for t in buffer.lookup(indices, 0))
    np.testing.assert_array_equal(same_mask, mask)
    np.testing.assert_allclose(same_magnitude, magnitude * mask)

    next_mask, next_magnitude = (t.numpy() for t in buffer.lookup(indices, 1))
    carried = 0
    for i in indices:
        before, after = pixel_ids(i, 0, seed), pixel_ids(i, 1, seed)
        # what the stored pixels showed, and where the next epoch's image shows the same
        # original pixel (padding is the same zero everywhere, so it is compared by place only)
        stored = {(before[r, c]): magnitude[i, r, c] for r, c in zip(*np.nonzero(mask[i, ..., 0]))}
        for r, c in zip(*np.nonzero(next_mask[i, ..., 0])):
            if after[r, c]:
                np.testing.assert_allclose(next_magnitude[i, r, c], stored[after[r, c]])
                carried += 1
        visible = set(after.flat) - {0}
        assert all(next_mask[i, ..., 0][after == pixel] == 1
                   for pixel in stored if pixel in visible)
        assert next_mask[i].sum() <= EPS
    assert carried > 0


SMALL = dict(model="small_cnn", width=0.25, batch_size=16, train_eps=4, eval_eps=4,
             method="atta", lr_schedule="constant", learning_rate=0.05, verbose=0,
             data=data_lib.DataConfig(max_train_examples=32, max_eval_examples=8))


def test_the_second_epochs_attack_starts_from_the_first_epochs_perturbation(monkeypatch):
    config = TrainConfig(**SMALL, epochs=2, augment=False)
    splits = data_lib.load_data(config.data)
    trainer, _ = build_trainer(config, splits)
    trainer.run_eagerly = True
    calls = []
    real = recipe_lib.sparse_pgd

    def spy(*args, **kwargs):
        result = real(*args, **kwargs)
        calls.append((kwargs["keys"].numpy(), kwargs["initial"], result.last_iterate))
        return result

    monkeypatch.setattr(recipe_lib, "sparse_pgd", spy)
    dataset = data_lib.training_dataset(splits.train, 16, 2, config.seed, augment=False)
    trainer.fit(dataset, epochs=1, steps_per_epoch=4, verbose=0, shuffle=False)
    assert len(calls) == 4
    ended = {}
    for keys, initial, (mask, magnitude) in calls[:2]:
        assert not np.any(initial[0].numpy())  # nothing is carried into the first epoch
        for row, key in enumerate(keys):
            ended[key] = mask.numpy()[row], magnitude.numpy()[row]
    for keys, initial, _ in calls[2:]:
        for row, key in enumerate(keys):
            mask, magnitude = ended[key]
            np.testing.assert_array_equal(initial[0].numpy()[row], mask)
            assert mask.sum() == config.train_eps
            np.testing.assert_allclose(initial[1].numpy()[row], magnitude * mask, atol=1e-7)


def test_a_run_resumed_mid_epoch_ends_as_the_uninterrupted_one(tmp_path):
    config = TrainConfig(**SMALL, epochs=2, augment=True)
    splits = data_lib.load_data(config.data)

    def fresh():
        trainer, optimizer = build_trainer(config, splits)
        return trainer, optimizer

    def stream(start_epoch=0, skip_steps=0):
        return data_lib.training_dataset(splits.train, 16, 2, config.seed, augment=True,
                                         start_epoch=start_epoch, skip_steps=skip_steps)

    whole, _ = fresh()
    whole.fit(stream(), epochs=1, steps_per_epoch=4, verbose=0, shuffle=False)

    first, optimizer = fresh()
    first.fit(stream(), epochs=1, steps_per_epoch=3, verbose=0, shuffle=False)  # epoch 1, step 1
    path = make_checkpoint(first, optimizer).save(str(tmp_path / "ckpt"))
    resumed, optimizer = fresh()
    make_checkpoint(resumed, optimizer).restore(path).assert_consumed()
    resumed.fit(stream(start_epoch=1, skip_steps=1), epochs=1, steps_per_epoch=1, verbose=0,
                shuffle=False)

    carried = whole.states["atta"].rows.numpy()
    assert np.any(carried[..., 0] >= 0)
    np.testing.assert_allclose(resumed.states["atta"].rows.numpy(), carried, atol=1e-6)
    for a, b in zip(whole.network.get_weights(), resumed.network.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_the_reset_epochs_are_the_references():
    # train_atta_cifar.py resets before its 1-based epochs 10, 20, 30 (of 40): 0-based 9, 19, 29
    fresh = [int(e) for e in range(40) if atta_buffer.starts_afresh(e, 10)]
    assert fresh == [e - 1 for e in range(1, 41) if e % 10 == 0] == [9, 19, 29, 39]
    assert not any(bool(atta_buffer.starts_afresh(e, 0)) for e in range(40))


@pytest.mark.slow
def test_a_reset_epoch_starts_afresh_and_a_run_restored_before_it_ends_as_the_whole_one(
        tmp_path, monkeypatch):
    config = TrainConfig(**SMALL, epochs=3, augment=True, atta_reset_epochs=2)  # resets epoch 1
    splits = data_lib.load_data(config.data)
    initials = []
    real = recipe_lib.sparse_pgd

    def spy(*args, **kwargs):
        initials.append(np.asarray(kwargs["initial"][0]).sum(axis=(1, 2, 3)))
        return real(*args, **kwargs)

    def fresh():
        trainer, optimizer = build_trainer(config, splits)
        trainer.run_eagerly = True
        return trainer, optimizer

    def stream(start_epoch=0):
        return data_lib.training_dataset(splits.train, 16, 3, config.seed, augment=True,
                                         start_epoch=start_epoch)

    monkeypatch.setattr(recipe_lib, "sparse_pgd", spy)
    whole, _ = fresh()
    whole.fit(stream(), epochs=1, steps_per_epoch=6, verbose=0, shuffle=False)
    carried = [counts.sum() for counts in initials]  # pixels carried into each step's attack
    assert carried[0] == carried[1] == 0  # nothing stored yet
    assert carried[2] == carried[3] == 0  # epoch 1 resets: its attacks start afresh
    assert carried[4] > 0 and carried[5] > 0  # epoch 2 carries epoch 1's perturbations

    first, optimizer = fresh()
    first.fit(stream(), epochs=1, steps_per_epoch=2, verbose=0, shuffle=False)  # epoch 0
    path = make_checkpoint(first, optimizer).save(str(tmp_path / "ckpt"))
    assert np.any(first.states["atta"].rows.numpy()[..., 0] >= 0)  # it holds rows the reset must drop
    resumed, optimizer = fresh()
    make_checkpoint(resumed, optimizer).restore(path).assert_consumed()
    initials.clear()
    resumed.fit(stream(start_epoch=1), epochs=1, steps_per_epoch=4, verbose=0, shuffle=False)
    assert [counts.sum() for counts in initials[:2]] == [0, 0]
    np.testing.assert_allclose(resumed.states["atta"].rows.numpy(), whole.states["atta"].rows.numpy(),
                               atol=1e-6)
    for a, b in zip(whole.network.get_weights(), resumed.network.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)
