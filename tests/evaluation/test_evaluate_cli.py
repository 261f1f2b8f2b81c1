"""`python -m tf_fastls0.evaluate` as a user runs it: the report, adversarial files, errors."""

import json
import re

import numpy as np
import pytest
import tensorflow as tf

from tf_fastls0.attacks import CLEAN_MISTAKE, STAGE_CODES, STAGES, SURVIVED
from tf_fastls0.evaluation.report import K_NOTE

ROBUSTBENCH_FIELDS = {"clean_acc", "robust_acc", "architecture", "dataset", "n_examples",
                      "threat_model"}
OTHER_FIELDS = {"units", "k", "k_unit", "k_note", "attacks", "budget", "budget_name", "settings",
                "model", "images", "warnings", "environment", "started_at", "finished_at",
                "complete", "shard", "stage_codes"}
N_EXAMPLES = 16


@pytest.fixture(scope="module")
def evaluated(tiny_run, run_module, tmp_path_factory):
    """One CLI evaluation of the run's SavedModel with two attacks and saved adversarial images;
    no data flags, so the run's own data settings apply (its 64-image test split)."""
    output_dir = tmp_path_factory.mktemp("evaluated")
    result = run_module("tf_fastls0.evaluate", f"--model={tiny_run / 'saved_model'}",
                        "--attacks=rs,saa", "--eps=10", "--iterations=5",
                        "--queries=20", f"--n_examples={N_EXAMPLES}", "--batch_size=16",
                        f"--output_dir={output_dir}", "--noprogress",
                        f"--save_adversarial={output_dir / 'adversarial.npz'}")
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((output_dir / "report.json").read_text())
    return result, report, output_dir


@pytest.fixture(scope="module")
def served(tiny_run):
    """The run's SavedModel (kept referenced: a restored function needs its object alive)."""
    return tf.saved_model.load(str(tiny_run / "saved_model"))


def test_report_has_every_field(evaluated, tiny_run):
    _, report, _ = evaluated
    assert ROBUSTBENCH_FIELDS | OTHER_FIELDS <= set(report)
    assert report["threat_model"] == "L0" and report["k"] == 10 and report["k_unit"] == "pixels"
    assert report["k_note"] == K_NOTE and report["units"]["robust_acc"] == "percent"
    assert report["architecture"] == "small_cnn (width 0.25)"
    assert report["dataset"] == "shapes10" and report["n_examples"] == N_EXAMPLES
    assert report["data"]["test_images"] == 64  # the run's --max_eval_examples, not shapes10's 1000
    assert report["budget"] == {"iterations": 5, "queries": 20, "patience": 3}
    assert report["budget_name"] == "custom" and report["complete"]
    assert report["settings"]["attacks"] == ["rs", "saa"] and report["settings"]["seed"] == 0
    assert report["model"]["format"] == "saved_model"
    assert report["model"]["run_dir"] == str(tiny_run)
    assert len(report["model"]["sha256"]) == 64
    assert report["environment"]["tensorflow_version"] == tf.__version__
    assert report["warnings"] == []
    assert set(report["attacks"]["saa"]["stages"]) == set(STAGES)
    assert report["attacks"]["saa"]["cumulative"] and not report["attacks"]["rs"]["cumulative"]


def test_accuracies_follow_from_the_per_image_records(evaluated, splits):
    _, report, _ = evaluated
    images = report["images"]
    expected = splits.test.subset(N_EXAMPLES, seed=0)
    np.testing.assert_array_equal(splits.test.labels[images["indices"]], expected.labels)
    saa, rs = (np.array(images["broken_by"][name]) for name in ("saa", "rs"))
    np.testing.assert_array_equal(saa == CLEAN_MISTAKE, rs == CLEAN_MISTAKE)
    assert report["clean_acc"] == pytest.approx(100 * np.mean(saa != CLEAN_MISTAKE))
    assert report["robust_acc"] == pytest.approx(
        100 * np.mean((saa == SURVIVED) & (rs == SURVIVED)))
    stages = report["attacks"]["saa"]["stages"]
    survivors = [stages[name]["survivors"] for name in STAGES]
    assert survivors == sorted(survivors, reverse=True)  # a cascade only loses survivors
    assert survivors[-1] == report["attacks"]["saa"]["survivors"] == np.sum(saa == SURVIVED)
    assert survivors[0] == np.sum(saa == SURVIVED) + np.sum(saa > STAGE_CODES["spgd_unproj"])


def test_clean_accuracy_matches_the_models_own_predictions(evaluated, served, splits):
    _, report, _ = evaluated
    chosen = splits.test.subset(N_EXAMPLES, seed=0)
    predictions = served.serve(tf.constant(chosen.images / 255.0, tf.float32)).numpy().argmax(-1)
    assert report["clean_acc"] == pytest.approx(100 * np.mean(predictions == chosen.labels))


def test_adversarial_files_hold_sparse_images_that_fool_the_model(evaluated, served):
    _, report, output_dir = evaluated
    saved = np.load(output_dir / "adversarial.npz")
    assert (output_dir / "adversarial.png").stat().st_size > 0
    adversarial, clean = saved["adversarial"], saved["clean"].astype(np.float32) / 255.0
    assert adversarial.shape == (N_EXAMPLES, 32, 32, 3) and adversarial.dtype == np.float32
    assert adversarial.min() >= 0.0 and adversarial.max() <= 1.0
    changed = np.any(adversarial != clean, axis=-1).sum(axis=(1, 2))
    assert changed.max() <= report["k"]
    np.testing.assert_array_equal(saved["indices"], report["images"]["indices"])
    broken = (saved["broken_by_saa"] > 0) | (saved["broken_by_rs"] > 0)
    np.testing.assert_array_equal(changed > 0, broken)
    predictions = served.serve(tf.constant(adversarial)).numpy().argmax(-1)
    assert np.all(predictions[broken] != saved["labels"][broken])


def test_prints_a_table_row(evaluated):
    result, report, _ = evaluated
    assert "| model | k | n | clean | RS | sAA |" in result.stdout
    assert f"| {report['robust_acc']:.1f} |" in result.stdout


@pytest.mark.parametrize("arguments, message", [
    (["--model={corrupt}"], "cannot load the Keras model"),
    (["--model={run}", "--iterations=0"], "--iterations"),
])
def test_bad_inputs_exit_2_with_one_line(arguments, message, tiny_run, run_module, tmp_path):
    (tmp_path / "broken.keras").write_bytes(b"not a zip archive")
    paths = {"corrupt": tmp_path / "broken.keras", "run": tiny_run}
    result = run_module("tf_fastls0.evaluate", *(a.format(**paths) for a in arguments),
                        f"--output_dir={tmp_path / 'out'}")
    assert result.returncode == 2, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error")]
    assert len(errors) == 1 and message in errors[0], result.stderr[-2000:]


@pytest.mark.parametrize("stop, status, word", [("SIGINT", 130, "interrupted"),
                                                 ("SIGTERM", 143, "terminated")])
def test_ctrl_c_or_sigterm_saves_the_state_and_stops_with_one_line(stop, status, word, tiny_run,
                                                                   start_module, wait_for,
                                                                   tmp_path):
    """Ctrl-C at a terminal, SIGTERM from a job scheduler: both save the state and stop."""
    import signal

    from tf_fastls0.utils.run_marker import MARKER_FILE

    # A budget far beyond what the test waits for: broken images leave the working batch at once
    # (compaction), so a small budget can finish before the signal arrives on a quiet machine.
    process = start_module("tf_fastls0.evaluate", f"--model={tiny_run}", "--eps=4",
                           "--iterations=5000", "--queries=5000", "--n_examples=32",
                           "--batch_size=2", "--noprogress", f"--output_dir={tmp_path}")
    wait_for(tmp_path / MARKER_FILE, process)  # written just before the first attack
    process.send_signal(getattr(signal, stop))
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == status, stderr[-3000:]
    assert "Traceback" not in stderr
    last = stderr.strip().splitlines()[-1]
    match = re.fullmatch(fr"{word}: evaluation stopped after (\d+) of 16 batches; its state "
                         f"is saved in {tmp_path}/eval_state.npz; continue with --resume", last)
    assert match, stderr[-2000:]
    with np.load(tmp_path / "eval_state.npz") as saved:
        assert len(json.loads(str(saved["meta"]))["done_batches"]) == int(match[1])
    assert not (tmp_path / "report.json").exists()
