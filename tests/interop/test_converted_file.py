"""What the PyTorch converter writes opens without this package, and what it cannot read is refused
in one clean line: a ``.keras`` file loads in a plain ``keras.saving.load_model`` in a process
that never imports tf_fastls0 (with the same logits), and a whole pickled ``nn.Module`` is
refused saying to save its state dict."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from tf_fastls0.interop import pytorch as convert_lib

# The reference layout's network, written once in the converter's own tests.
_SPEC = importlib.util.spec_from_file_location("converter_networks",
                                               Path(__file__).with_name("test_pytorch.py"))
networks = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(networks)

# Loads the file with Keras alone, refusing to run if anything imported tf_fastls0, and prints
# its logits for the images given.
LOAD_ALONE = """
import json, sys
import numpy as np
import keras
network = keras.saving.load_model(sys.argv[1])
assert not [name for name in sys.modules if name.startswith("tf_fastls0")], "tf_fastls0 imported"
images = np.load(sys.argv[2])
print(json.dumps(np.asarray(network(images, training=False)).tolist()))
"""


def test_a_converted_file_loads_with_keras_alone_and_gives_the_same_logits(tmp_path):
    net = networks._randomised(networks.PreActNet(networks.WIDTH, 10), seed=4)
    torch.save(net.state_dict(), tmp_path / "ckpt.pth")
    output = tmp_path / "model.keras"
    convert_lib.convert_pytorch(str(tmp_path / "ckpt.pth"), "preact_resnet18", 10, str(output),
                                image_size=16)
    images = np.random.default_rng(0).random((3, 16, 16, 3), dtype=np.float32)
    np.save(tmp_path / "images.npy", images)

    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-c", LOAD_ALONE, str(output), str(tmp_path / "images.npy")],
        cwd=tmp_path, env={**environment, "TF_CPP_MIN_LOG_LEVEL": "2"}, capture_output=True,
        text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    logits = np.array(json.loads(result.stdout.strip().splitlines()[-1]))
    with torch.no_grad():
        expected = net(torch.from_numpy(images.transpose(0, 3, 1, 2))).numpy()
    assert np.abs(logits - expected).max() < networks.LOGIT_TOLERANCE


def test_a_pickled_module_is_refused_in_one_clean_line(tmp_path):
    torch.save(nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8)), tmp_path / "whole.pth")
    with pytest.raises(convert_lib.CheckpointError) as refusal:
        convert_lib.convert_pytorch(str(tmp_path / "whole.pth"), "preact_resnet18", 10,
                                    str(tmp_path / "refused.keras"))
    message = str(refusal.value)
    assert message == (
        f"{tmp_path / 'whole.pth'} holds a pickled Python object "
        "(torch.nn.modules.container.Sequential), not only tensors, and loading it would run "
        "the file's code; save the state dict instead (torch.save(model.state_dict(), path)) and "
        "convert that")
    assert not (tmp_path / "refused.keras").exists()


def test_other_unreadable_files_keep_one_whole_sentence_without_colour_codes(tmp_path):
    error = RuntimeError("Bad magic. \x1b[1mDo not\x1b[0m trust it.\n\tdetails on the next line")
    assert convert_lib._unreadable("x.pth", error) == (
        "x.pth is not a readable PyTorch checkpoint (Bad magic)")
