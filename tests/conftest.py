"""Shared test settings: quiet TensorFlow, the repository root, and the shared CIFAR-10 folder."""

import importlib.util
import os
import pathlib
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

import tf_fastls0  # noqa: E402,F401  (before TensorFlow: oneDNN's CPU kernels, as the commands)

REPO = pathlib.Path(__file__).resolve().parent.parent
# A git worktree sits one folder deeper than the main checkout: CIFAR10_JPEG_DIR points there.
CIFAR10_JPEG = pathlib.Path(os.environ.get("CIFAR10_JPEG_DIR",
                                           REPO.parent / "shared" / "data" / "cifar10-jpeg"))


@pytest.fixture(scope="session")
def cifar10_dir():
    assert CIFAR10_JPEG.is_dir(), f"the shared CIFAR-10 folder is missing at {CIFAR10_JPEG}"
    return CIFAR10_JPEG


# One finished trainer run serves the training, evaluation and analysis tests: 1-step sAT on 256
# built-in shapes10 images, 2 epochs of 8 steps, robust validation on 16 images.
TINY_RUN = ("--model=small_cnn", "--width=0.25", "--epochs=2", "--batch_size=32",
            "--max_train_examples=256", "--max_eval_examples=64", "--method=sparse_at",
            "--val_robust_examples=16", "--val_attack_steps=2", "--log_every_steps=2")


@pytest.fixture(scope="session")
def tiny_run_args():
    return TINY_RUN


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, run_module):
    """The folder of a finished ``python -m tf_fastls0.train`` run with ``TINY_RUN``'s flags
    (saved_model/, model.keras, summary.json, config.json, checkpoints/, logs/)."""
    output_dir = tmp_path_factory.mktemp("tiny_run")
    result = run_module("tf_fastls0.train", *TINY_RUN, f"--output_dir={output_dir}")
    assert result.returncode == 0, result.stderr[-3000:]
    return output_dir


@pytest.fixture(scope="session")
def repo():
    return REPO


@pytest.fixture(scope="session")
def run_module():
    """Runs ``python -m module args`` from the repository root; returns the CompletedProcess."""

    def run(module, *args, env=None, timeout=600):
        environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
        return subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, env=environment,
                              capture_output=True, text=True, timeout=timeout)

    return run


@pytest.fixture(scope="session")
def start_module():
    """Starts ``python -m module args`` from the repository root; returns the ``Popen`` (stderr
    piped, as text). SIGINT reaches it as Ctrl-C would, even where the tests run as a background
    job, which starts with SIGINT ignored."""
    import signal

    def start(module, *args):
        return subprocess.Popen(
            [sys.executable, "-m", module, *args], cwd=REPO, text=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))

    return start


@pytest.fixture(scope="session")
def wait_for():
    """``wait_for(path, process)``: waits until ``path`` exists while ``process`` runs."""
    return _wait_for


def _wait_for(path, process, deadline=300):
    import time

    stop = time.monotonic() + deadline
    while not path.exists():
        assert process.poll() is None, f"the process ended before {path} appeared"
        assert time.monotonic() < stop, f"{path} did not appear"
        time.sleep(0.05)


@pytest.fixture(scope="session")
def imagenet_like():
    """``testdata/make_imagenet_like.py`` as a module, loaded once: it defines absl flags, which a
    second load in the same process would define twice."""
    spec = importlib.util.spec_from_file_location("make_imagenet_like",
                                                  REPO / "testdata" / "make_imagenet_like.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
