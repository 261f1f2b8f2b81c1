"""Shared test settings: quiet TensorFlow, the repository root, and the shared CIFAR-10 folder."""

import os
import pathlib
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parent.parent
CIFAR10_JPEG = REPO.parent / "shared" / "data" / "cifar10-jpeg"


@pytest.fixture(scope="session")
def cifar10_dir():
    assert CIFAR10_JPEG.is_dir(), f"the shared CIFAR-10 folder is missing at {CIFAR10_JPEG}"
    return CIFAR10_JPEG


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
