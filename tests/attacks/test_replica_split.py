"""Attacks inside a tf.distribute replica context (two logical CPUs, run in a subprocess)."""

import os
import pathlib
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # the slow selection (pytest.ini)

REPO = pathlib.Path(__file__).resolve().parents[2]


def test_two_replicas_attack_each_image_as_one_device_does():
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="2")
    result = subprocess.run([sys.executable, str(REPO / "tests/attacks/replica_split.py")],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "replica split matches one device" in result.stdout
