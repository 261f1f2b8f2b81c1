"""Shared test settings: quiet TensorFlow, the repository root, the shared CIFAR-10 folder, and
``built_once`` for the costly folders every pytest-xdist worker would otherwise build again."""

import fcntl
import importlib.util
import os
import pathlib
import shutil
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

import tf_fastls0  # noqa: E402,F401  (before TensorFlow: oneDNN's CPU kernels, as the commands)

REPO = pathlib.Path(__file__).resolve().parent.parent
# A git worktree sits one folder deeper than the main checkout: CIFAR10_JPEG_DIR points there.
CIFAR10_JPEG = pathlib.Path(os.environ.get("CIFAR10_JPEG_DIR",
                                           REPO.parent / "shared" / "data" / "cifar10-jpeg"))


# The slowest test files (minutes each on 2 cores), slowest first. ``-n 2 --dist loadfile`` hands
# whole files to the two workers in collection order: these start first, so no worker is left
# with one of them at the end while the other idles. Measure with ``--durations``.
SLOW_FILES = ("training/test_methods.py", "training/test_resume.py", "benchmarks/test_compare.py",
              "attacks/test_strength.py", "analysis/test_analyze_cli.py",
              "benchmarks/test_attack_cost.py", "benchmarks/test_gpu_recipe.py",
              "training/test_multi_worker.py", "test_examples.py", "benchmarks/test_threat_table.py",
              "training/test_threat_training.py", "benchmarks/test_scaling.py",
              "losses/test_global_reductions.py", "evaluation/test_in_memory.py",
              "attacks/test_compaction.py", "training/test_callbacks.py")


def pytest_configure(config):
    """Under pytest-xdist, files go out in collection order (``SLOW_FILES`` first), not its
    default of the files with the most tests first."""
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(items):
    def rank(item):
        path = item.path.relative_to(REPO / "tests").as_posix()
        return SLOW_FILES.index(path) if path in SLOW_FILES else len(SLOW_FILES)

    items.sort(key=rank)  # stable: each file's tests keep their order


def _built_once(tmp_path_factory, name, build):
    """The folder ``name`` that ``build(folder)`` fills, built once per test session.

    Under pytest-xdist (``-n 2``) every worker has its own session fixtures; this folder sits in
    the folder the workers share instead: the first worker to ask builds it under a file lock and
    the others wait for it and reuse it. Treat it as read-only (copy it before changing it)."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        folder = tmp_path_factory.mktemp(name, numbered=False)
        build(folder)
        return folder
    shared = tmp_path_factory.getbasetemp().parent  # this session's, above each worker's own
    folder, done = shared / name, shared / f"{name}.done"
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)  # what a failed build left
            folder.mkdir()
            build(folder)
            done.touch()
    return folder


@pytest.fixture(scope="session")
def built_once(tmp_path_factory):
    """``built_once(name, build)``: the folder ``name`` that ``build(folder)`` fills, once per
    session however many pytest-xdist workers ask (``_built_once``)."""
    return lambda name, build: _built_once(tmp_path_factory, name, build)


@pytest.fixture(scope="session")
def cifar10_dir():
    assert CIFAR10_JPEG.is_dir(), f"the shared CIFAR-10 folder is missing at {CIFAR10_JPEG}"
    return CIFAR10_JPEG


# One finished trainer run serves the training, evaluation and analysis tests: 1-step sAT on 256
# built-in shapes10 images, 2 epochs of 8 steps, robust validation on 16 images; in float32 on
# every machine (auto would pick bfloat16 on a CPU with AVX512-BF16 or AMX).
TINY_RUN = ("--model=small_cnn", "--width=0.25", "--epochs=2", "--batch_size=32",
            "--max_train_examples=256", "--max_eval_examples=64", "--method=sparse_at",
            "--val_robust_examples=16", "--val_attack_steps=2", "--log_every_steps=2",
            "--mixed_precision=off")


@pytest.fixture(scope="session")
def tiny_run_args():
    return TINY_RUN


@pytest.fixture(scope="session")
def tiny_run(built_once, run_module):
    """The folder of a finished ``python -m tf_fastls0.train`` run with ``TINY_RUN``'s flags
    (saved_model/, model.keras, summary.json, config.json, checkpoints/, logs/); shared by the
    pytest-xdist workers (``built_once``): copy it before changing anything in it."""
    def train(output_dir):
        result = run_module("tf_fastls0.train", *TINY_RUN, f"--output_dir={output_dir}")
        assert result.returncode == 0, result.stderr[-3000:]

    return built_once("tiny_run", train)


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
