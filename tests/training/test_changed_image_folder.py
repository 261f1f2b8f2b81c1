"""A run over an image folder is resumed only over the same images: the trainer, run as a user
runs it, records the folder's listing and refuses in one line (exit 2) a resume after a file was
deleted, before it trains."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from tf_fastls0.data.image_folder import listing_changes, listing_fingerprint
from tf_fastls0.training import run_folder
from tf_fastls0.data.config import DataConfig
from tf_fastls0.training.config import TrainConfig
from tf_fastls0.utils.cli import UsageError

CLASSES = ("cat", "dog")
RUN = ("--model=small_cnn", "--width=0.25", "--epochs=1", "--batch_size=4",
       "--method=sparse_at", "--train_eps=2", "--eval_eps=2", "--val_robust_examples=0",
       "--verbose=0")


def write_folder(root, train_files=6, test_files=2):
    """An image folder of 8x8 PNGs, each a different grey."""
    for split, count in (("train", train_files), ("test", test_files)):
        for label, name in enumerate(CLASSES):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(count):
                pixels = np.full([8, 8, 3], 20 * i + 100 * label, np.uint8)
                (folder / f"{i}.png").write_bytes(tf.io.encode_png(pixels).numpy())
    return root


def test_a_resume_after_a_file_was_deleted_is_refused_in_one_line(tmp_path, run_module):
    data, output = write_folder(tmp_path / "images"), tmp_path / "run"
    flags = (*RUN, f"--data_dir={data}", f"--output_dir={output}")
    first = run_module("tf_fastls0.train", *flags)
    assert first.returncode == 0, first.stderr[-3000:]
    recorded = json.loads((output / "config.json").read_text())[run_folder.LISTING_KEY]
    assert recorded["train/cat"]["files"] == 6 and set(recorded) == {
        "train/cat", "train/dog", "test/cat", "test/dog"}
    checkpoints_before = sorted(os.listdir(output / "checkpoints"))

    (data / "train" / "dog" / "3.png").unlink()
    refused = run_module("tf_fastls0.train", *flags)
    assert refused.returncode == 2, refused.stderr[-3000:]
    message = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
    assert len(message) == 1 and "Traceback" not in refused.stderr, refused.stderr
    assert "train/dog: 5 image files, was 6" in message[0]
    assert "train/cat" not in message[0] and "--overwrite" in message[0]
    assert "resuming" not in refused.stdout
    assert sorted(os.listdir(output / "checkpoints")) == checkpoints_before


def _config(data, output, **changes):
    return TrainConfig(output_dir=str(output), data=DataConfig(data_dir=str(data)), **changes)


def test_an_unchanged_folder_resumes_and_overwrite_replaces_a_changed_one(tmp_path):
    data, output = write_folder(tmp_path / "images"), tmp_path / "run"
    output.mkdir()
    run_folder.claim(_config(data, output))
    assert run_folder.plan(_config(data, output)) == run_folder.RESUME

    os.utime(data / "test" / "cat" / "1.png", ns=(0, 0))  # same names and sizes, another time
    with pytest.raises(UsageError, match=r"test/cat: same 2 names, other sizes or modification "
                                         r"times\)"):
        run_folder.plan(_config(data, output))
    assert run_folder.plan(_config(data, output, overwrite=True)) == run_folder.REPLACE
    assert run_folder.plan(_config(data, output, resume=False)) == run_folder.REPLACE


def test_a_run_recorded_before_the_listing_resumes_as_before(tmp_path):
    data, output = write_folder(tmp_path / "images"), tmp_path / "run"
    output.mkdir()
    run_folder.claim(_config(data, output))
    written = json.loads((output / "config.json").read_text())
    del written[run_folder.LISTING_KEY]
    (output / "config.json").write_text(json.dumps(written))
    (data / "train" / "cat" / "0.png").unlink()
    assert run_folder.plan(_config(data, output)) == run_folder.RESUME


def test_each_kind_of_change_is_named(tmp_path):
    before = listing_fingerprint(str(write_folder(tmp_path / "images")))
    assert listing_changes(before, before) == []
    (tmp_path / "images" / "train" / "cat" / "0.png").rename(
        tmp_path / "images" / "train" / "cat" / "9.png")
    (tmp_path / "images" / "train" / "dog" / "6.png").write_bytes(
        (tmp_path / "images" / "train" / "dog" / "0.png").read_bytes())
    (tmp_path / "images" / "test" / "cat" / "0.png").write_bytes(b"other, longer bytes")
    (tmp_path / "images" / "test" / "cat" / "0.png").touch()
    now = listing_fingerprint(str(tmp_path / "images"))
    assert listing_changes(before, now) == [
        "test/cat: same 2 names, other sizes or modification times",
        "train/cat: other file names (6 files)",
        "train/dog: 7 image files, was 6"]
    assert listing_changes(before, {k: v for k, v in now.items() if k != "test/dog"})[1] == \
        "test/dog: class folder gone (2 files)"
    assert listing_changes({k: v for k, v in before.items() if k != "test/dog"}, before) == [
        "test/dog: new class folder (2 files)"]


def test_the_listing_leaves_out_what_the_loader_leaves_out(tmp_path):
    data = write_folder(tmp_path / "images")
    before = listing_fingerprint(str(data))
    (data / "train" / "cat" / "notes.txt").write_text("not an image")
    assert listing_changes(before, listing_fingerprint(str(data))) == []

