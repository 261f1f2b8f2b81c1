"""Run folders written by an earlier release (``testdata/old_release_run``, made by
``testdata/make_old_release_run.py`` at the commit its ``RELEASE`` file names) still resume,
evaluate and analyse with this one: a setting renamed since is read under its new name."""

import json
import shutil

import pytest

from tf_fastls0.training.config import TrainConfig

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def old_release(repo):
    folder = repo / "testdata" / "old_release_run"
    flags = (folder / "RELEASE").read_text().splitlines()[1].split()
    return folder, flags


def copied(folder, tmp_path):
    target = tmp_path / folder.name
    shutil.copytree(folder, target)
    return target


def test_the_interrupted_run_resumes_with_its_own_command(old_release, tmp_path, run_module):
    folder, flags = old_release
    run_dir = copied(folder / "interrupted", tmp_path)
    result = run_module("tf_fastls0.train", *flags, f"--output_dir={run_dir}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resum" in result.stderr.lower() + result.stdout.lower()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["num_train_examples"] == 128 and len(summary["epoch_seconds"]) == 2
    assert (run_dir / "checkpoints" / "ckpt-8.index").exists()
    assert (run_dir / "saved_model").is_dir()


def test_its_config_json_reads_as_the_same_settings(old_release):
    folder, _ = old_release
    values = json.loads((folder / "finished" / "config.json").read_text())
    config = TrainConfig.from_dict(values)
    assert config.method == "fast_ls_l0" and config.self_adaptive and config.nfgsm
    assert config.train_eps == 6 and config.epochs == 2
    assert TrainConfig.from_dict(config.to_dict()) == config


def test_the_finished_run_evaluates(old_release, tmp_path, run_module):
    folder, _ = old_release
    run_dir = copied(folder / "finished", tmp_path)
    result = run_module("tf_fastls0.evaluate", f"--model={run_dir / 'saved_model'}",
                        "--attacks=saa", "--eps=6", "--iters=3", "--rs_queries=10",
                        "--n_examples=16", "--batch_size=16", "--noprogress",
                        f"--output_dir={tmp_path / 'evaluation'}")
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "evaluation" / "report.json").read_text())
    assert report["n_examples"] == 16 and report["dataset"] == "shapes10"


def test_the_finished_run_analyses(old_release, tmp_path, run_module):
    folder, _ = old_release
    run_dir = copied(folder / "finished", tmp_path)
    result = run_module("tf_fastls0.analyze", f"--model={run_dir}", "--analysis=gradient_norm,hessian",
                        "--loss=auto", "--n_examples=16", "--batch_size=16",
                        "--hessian_max_iterations=3",
                        f"--output_dir={tmp_path / 'analysis'}")
    assert result.returncode == 0, result.stderr[-3000:]
    hessian = json.loads((tmp_path / "analysis" / "hessian.json").read_text())
    assert "sTRADES" in json.dumps(hessian) or "strades" in json.dumps(hessian)
    assert (tmp_path / "analysis" / "gradient_norm.json").exists()
