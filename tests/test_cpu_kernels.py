"""Importing tf_fastls0 before TensorFlow turns on oneDNN's CPU kernels on x86-64 (TensorFlow's
own default leaves them off on CPUs without VNNI/AMX, where Eigen's backward convolutions cost
about twice as much), and a user's TF_ENABLE_ONEDNN_OPTS is left as it is."""

import os
import platform
import subprocess
import sys

import pytest

PROBE = ("import tf_fastls0, os; from tensorflow.python.util import _pywrap_util_port as port; "
         "print(os.environ.get('TF_ENABLE_ONEDNN_OPTS'), port.IsMklEnabled())")


@pytest.mark.parametrize("chosen, expected", [
    (None, "1 True" if platform.machine().lower() in ("x86_64", "amd64") else None),
    ("0", "0 False"),
])
def test_onednn_follows_the_package_default_unless_the_user_chose(repo, chosen, expected):
    env = {key: value for key, value in os.environ.items() if key != "TF_ENABLE_ONEDNN_OPTS"}
    env.update(PYTHONPATH=str(repo), TF_CPP_MIN_LOG_LEVEL="2",
               **({"TF_ENABLE_ONEDNN_OPTS": chosen} if chosen else {}))
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=repo, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    line = result.stdout.strip().splitlines()[-1]
    if expected is None:  # not x86-64: the package leaves TensorFlow's own default
        assert line.startswith("None ")
    else:
        assert line == expected
