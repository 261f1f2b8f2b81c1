"""A damaged ``eval_state.npz`` (truncated, empty, keys missing, arrays that disagree) stops
``--resume`` with one ``UsageError`` naming the file, and leaves the folder as it was."""

import io
import json
import shutil

import numpy as np
import pytest

from tf_fastls0.evaluation import EvalConfig, evaluate_model
from tf_fastls0.evaluation.state import STATE_FILE
from tf_fastls0.utils.cli import UsageError

SETTINGS = {"eps": 10, "iterations": 2, "queries": 4, "n_examples": 8, "batch_size": 4,
            "progress": False}


@pytest.fixture(scope="module")
def partial(tiny_run, splits, tmp_path_factory):
    """An evaluation stopped after its first of two batches."""
    output_dir = tmp_path_factory.mktemp("partial")
    evaluate_model(EvalConfig(model=str(tiny_run), output_dir=str(output_dir), max_batches=1,
                              **SETTINGS), splits)
    return output_dir


def rewritten(path, change):
    """The state file's arrays passed through ``change``, saved again as .npz bytes."""
    with np.load(path) as saved:
        arrays = change({key: saved[key] for key in saved.files})
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def without(key):
    return lambda arrays: {name: value for name, value in arrays.items() if name != key}


def meta_without(key):
    def change(arrays):
        meta = json.loads(str(arrays["meta"]))
        del meta[key]
        return {**arrays, "meta": np.array(json.dumps(meta))}
    return change


def shortened(arrays):
    return {**arrays, "labels": arrays["labels"][:-1]}


DAMAGES = {
    "truncated": lambda path: path.read_bytes()[:len(path.read_bytes()) // 2],
    "zero bytes": lambda path: b"",
    "not an npz": lambda path: b"hello",
    "no labels": lambda path: rewritten(path, without("labels")),
    "no meta": lambda path: rewritten(path, without("meta")),
    "meta without done_batches": lambda path: rewritten(path, meta_without("done_batches")),
    "no saa records": lambda path: rewritten(path, without("broken_by.saa")),
    "arrays of other lengths": lambda path: rewritten(path, shortened),
}


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_state_is_refused_with_one_line(damage, partial, tiny_run, splits, tmp_path):
    output_dir = shutil.copytree(partial, tmp_path / "evaluation")
    state = output_dir / STATE_FILE
    state.write_bytes(DAMAGES[damage](state))
    before = {path.name: path.read_bytes() for path in output_dir.iterdir()}
    with pytest.raises(UsageError) as refused:
        evaluate_model(EvalConfig(model=str(tiny_run), output_dir=str(output_dir), resume=True,
                                  **SETTINGS), splits)
    message = str(refused.value)
    assert message.startswith(f"cannot resume from {state}: it is damaged (")
    assert "\n" not in message and message.endswith("delete it to start afresh")
    assert {path.name: path.read_bytes() for path in output_dir.iterdir()} == before


def test_the_intact_state_resumes(partial, tiny_run, splits, tmp_path):
    output_dir = shutil.copytree(partial, tmp_path / "evaluation")
    report = evaluate_model(EvalConfig(model=str(tiny_run), output_dir=str(output_dir), resume=True,
                                       **SETTINGS), splits)
    assert report["complete"] and report["n_examples"] == 8
