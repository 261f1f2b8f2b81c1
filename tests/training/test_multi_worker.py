import socket
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

pytestmark = pytest.mark.slow  # the slow selection (pytest.ini)


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [str(sock.getsockname()[1]) for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def checkpoint_values(output_dir):
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(output_dir / "checkpoints")))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
            if name.startswith(("network/", "soft_labels")) and "OPTIMIZER_SLOT" not in name}


def test_two_workers_on_localhost_match_one_process(tmp_path, repo):
    script = str(repo / "tests" / "training" / "multi_worker.py")
    env = {"TF_CPP_MIN_LOG_LEVEL": "2", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(repo)}
    single = subprocess.run([sys.executable, script, str(tmp_path / "single")], env=env,
                            capture_output=True, text=True, timeout=300)
    assert single.returncode == 0, single.stderr[-3000:]
    ports = free_ports(2)
    workers = [subprocess.Popen([sys.executable, script, str(tmp_path / "multi"), str(i), *ports],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for i in range(2)]
    for worker in workers:
        _, stderr = worker.communicate(timeout=300)
        assert worker.returncode == 0, stderr[-3000:]
    assert (tmp_path / "multi" / "saved_model").is_dir()  # the chief exported
    reference, distributed = checkpoint_values(tmp_path / "single"), checkpoint_values(tmp_path / "multi")
    assert reference.keys() == distributed.keys() and any("soft_labels" in k for k in reference)
    for name in reference:
        np.testing.assert_allclose(distributed[name], reference[name], rtol=0, atol=1e-5, err_msg=name)
