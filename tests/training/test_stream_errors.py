"""Streamed data that stops reading midway (a file deleted or damaged after the listing, a TFDS
record that fails): one line naming it, exit status 1, and the checkpoint to resume from."""

import re

import numpy as np
import pytest
import tensorflow as tf

from tf_fastls0.data import DataConfig, load_data, training_dataset


def image_folder(root, train=16, test=4, side=16):
    """Two classes of random PNG images."""
    rng = np.random.default_rng(0)
    for split, count in (("train", train), ("test", test)):
        for name in ("a", "b"):
            (root / split / name).mkdir(parents=True)
            for i in range(count):
                pixels = rng.integers(0, 256, [side, side, 3], np.uint8)
                (root / split / name / f"{i}.png").write_bytes(tf.io.encode_png(pixels).numpy())
    return root


def test_a_training_image_deleted_midway_stops_with_one_line_naming_it(tmp_path, start_module,
                                                                      wait_for):
    data_dir = image_folder(tmp_path / "data")
    run = tmp_path / "run"
    process = start_module(
        "tf_fastls0.train", f"--data_dir={data_dir}", "--pipeline=stream", "--model=small_cnn",
        "--width=0.25", "--epochs=6", "--batch_size=8", "--method=standard", "--eval_eps=4",
        "--val_robust_examples=0", "--checkpoint_every_steps=1", "--final_eval=none",
        f"--output_dir={run}")
    wait_for(run / "checkpoints" / "checkpoint", process)  # a step is done, the stream runs
    victim = data_dir / "train" / "b" / "5.png"
    victim.unlink()  # every epoch reads it again
    _, stderr = process.communicate(timeout=600)
    assert process.returncode == 1, stderr[-3000:]
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, stderr[-3000:]
    match = re.fullmatch(fr"error: cannot read {victim}: No such file or directory; training "
                         r"stopped at step (\d+); the last checkpoint is (\S+); repair or "
                         "restore it and run the same command again to resume", lines[0])
    assert match, lines[0]
    assert tf.train.latest_checkpoint(str(run / "checkpoints")) == match[2]


@pytest.mark.parametrize("damage", ["deleted", "damaged"])
def test_the_file_that_stopped_reading_is_found_among_the_listed_ones(damage, tmp_path):
    data_dir = image_folder(tmp_path / "data")
    splits = load_data(DataConfig(data_dir=str(data_dir), pipeline="stream"))
    victim = data_dir / "train" / "a" / "3.png"
    if damage == "deleted":
        victim.unlink()
    else:
        victim.write_bytes(b"\x89PNG truncated")
    with pytest.raises(tf.errors.OpError) as failed:
        for _ in training_dataset(splits.train, 8, 1):
            pass
    reason = {"deleted": "No such file or directory", "damaged": "Unknown image file format"}
    assert splits.train.unreadable(failed.value).startswith(
        f"cannot read {victim}: {reason[damage]}")
    assert splits.test.unreadable(failed.value) is None  # every test image reads


def test_an_evaluation_whose_test_image_stops_reading_keeps_its_state(tmp_path):
    import keras

    from tf_fastls0.evaluation import EvalConfig, evaluate_model
    from tf_fastls0.utils.cli import RunFailed

    data_dir = image_folder(tmp_path / "data")
    model = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Flatten(),
                              keras.layers.Dense(2)])
    model.save(tmp_path / "model.keras")
    data = DataConfig(data_dir=str(data_dir), pipeline="stream")
    splits = load_data(data)
    victim = data_dir / "test" / "a" / "1.png"
    victim.write_bytes(b"not an image")  # damaged after the listing
    output_dir = tmp_path / "eval"
    with pytest.raises(RunFailed) as failed:
        evaluate_model(EvalConfig(model=str(tmp_path / "model.keras"), data=data, eps=2,
                                  attacks=("spgd_proj",), iterations=2, n_examples=8, batch_size=4,
                                  output_dir=str(output_dir), progress=False), splits)
    assert re.fullmatch(fr"cannot read {victim}: Unknown image file format\..*; evaluation "
                        r"stopped after 0 of 2 batches; its state is saved in "
                        fr"{output_dir}/eval_state.npz; repair or restore it and continue with "
                        "--resume", str(failed.value)), str(failed.value)
    assert (output_dir / "eval_state.npz").exists()
