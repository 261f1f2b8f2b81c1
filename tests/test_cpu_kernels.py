"""Importing tf_fastls0 before TensorFlow turns on oneDNN's CPU kernels on x86-64 with more than
one core (TensorFlow's own default leaves them off on CPUs without VNNI/AMX, where Eigen's
backward convolutions cost about 1.65x as much; on one core TensorFlow's oneDNN kernels crashed on
small shapes), and a user's TF_ENABLE_ONEDNN_OPTS is left as it is."""

import os
import platform
import subprocess
import sys

import pytest

PROBE = ("import tf_fastls0, os; from tensorflow.python.util import _pywrap_util_port as port; "
         "print(os.environ.get('TF_ENABLE_ONEDNN_OPTS'), port.IsMklEnabled())")


X86 = platform.machine().lower() in ("x86_64", "amd64")


@pytest.mark.parametrize("chosen, cores, expected", [
    (None, None, "1 True" if X86 and len(os.sched_getaffinity(0)) > 1 else None),
    (None, 1, None),
    ("0", None, "0 False"),
])
def test_onednn_follows_the_package_default_unless_the_user_chose(repo, chosen, cores, expected):
    env = {key: value for key, value in os.environ.items() if key != "TF_ENABLE_ONEDNN_OPTS"}
    env.update(PYTHONPATH=str(repo), TF_CPP_MIN_LOG_LEVEL="2",
               **({"TF_ENABLE_ONEDNN_OPTS": chosen} if chosen else {}))
    one_core = (lambda: os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})) if cores else None
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=repo, env=env,
                            capture_output=True, text=True, timeout=300, preexec_fn=one_core)
    assert result.returncode == 0, result.stderr[-2000:]
    line = result.stdout.strip().splitlines()[-1]
    if expected is None:  # not x86-64, or one core: the package leaves TensorFlow's default
        assert line.startswith("None ")
    else:
        assert line == expected
