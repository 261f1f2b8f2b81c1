"""PyTorch checkpoints of the reference layouts convert into our Keras models with the same
logits; checkpoints that do not fit are refused in one line.

The PyTorch networks below are written here, from the layouts the converter documents (the sPGD
reference's PreActResNet18 and torchvision's resnet34), at an eighth of the width and on small
images to keep the tests fast; their BatchNorm statistics and affine weights are random so that
inference mode is not the identity.
"""

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from tf_fastls0.interop import pytorch as convert_lib
from tf_fastls0.models.loading import load_model

WIDTH = 8  # the stem's channels (64 in the full networks)
LOGIT_TOLERANCE = 1e-4


class PreActBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False))

    def forward(self, x):
        first = F.softplus(self.bn1(x))
        skip = self.shortcut(first) if hasattr(self, "shortcut") else x
        return self.conv2(F.softplus(self.bn2(self.conv1(first)))) + skip


class PreActNet(nn.Module):
    """The reference's PreActResNet18 state-dict layout (conv1, layer*, bn, linear)."""

    def __init__(self, width, classes):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 3, 1, 1, bias=False)
        stages, cin = [], width
        for index, stride in enumerate((1, 2, 2, 2)):
            cout = width * 2 ** index
            stages.append(nn.Sequential(PreActBlock(cin, cout, stride), PreActBlock(cout, cout, 1)))
            cin = cout
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.bn = nn.BatchNorm2d(cin)
        self.linear = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.layer4(self.layer3(self.layer2(self.layer1(self.conv1(x)))))
        return self.linear(F.adaptive_avg_pool2d(F.relu(self.bn(x)), 1).flatten(1))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                            nn.BatchNorm2d(cout))

    def forward(self, x):
        skip = x if self.downsample is None else self.downsample(x)
        return F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))) + skip)


class TorchvisionResNet34(nn.Module):
    """torchvision's resnet34 state-dict layout (conv1, bn1, layer*, downsample, fc)."""

    def __init__(self, width, classes):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        stages, cin = [], width
        for index, (blocks, stride) in enumerate(zip((3, 4, 6, 3), (1, 2, 2, 2))):
            cout = width * 2 ** index
            stages.append(nn.Sequential(*[BasicBlock(cin if b == 0 else cout, cout,
                                                     stride if b == 0 else 1)
                                          for b in range(blocks)]))
            cin = cout
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


def _randomised(net, seed):
    """``net`` in inference mode with random BatchNorm statistics and affine weights."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    for module in net.modules():
        if isinstance(module, nn.BatchNorm2d):
            channels = module.num_features
            module.running_mean.copy_(0.2 * torch.randn(channels, generator=generator))
            module.running_var.copy_(0.5 + torch.rand(channels, generator=generator))
            with torch.no_grad():
                module.weight.copy_(0.5 + torch.rand(channels, generator=generator))
                module.bias.copy_(0.2 * torch.randn(channels, generator=generator))
            module.num_batches_tracked.fill_(123)
    return net.eval()


def _assert_same_logits(net, keras_model, size, seed=0):
    images = np.random.default_rng(seed).random((3, size, size, 3), dtype=np.float32)
    with torch.no_grad():
        expected = net(torch.from_numpy(images.transpose(0, 3, 1, 2))).numpy()
    got = np.asarray(keras_model(images, training=False))
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() < LOGIT_TOLERANCE, np.abs(got - expected).max()


@pytest.fixture(scope="module")
def preact():
    return _randomised(PreActNet(WIDTH, 10), seed=1)


@pytest.mark.parametrize("wrap", ["plain", "module_prefix_in_state_dict_wrapper"])
def test_reference_preact_resnet18_converts_with_the_same_logits(preact, tmp_path, wrap):
    state = preact.state_dict()
    if wrap != "plain":  # as DataParallel names them, saved beside the optimiser and the epoch
        state = {"epoch": 7, "optimizer": {"lr": 0.1},
                 "state_dict": {f"module.{key}": value for key, value in state.items()}}
    torch.save(state, tmp_path / "ckpt.pth")
    output = tmp_path / "model.keras"
    convert_lib.convert_pytorch(str(tmp_path / "ckpt.pth"), "preact_resnet18", 10, str(output),
                                image_size=16)
    # the file is an ordinary model of ours, loaded as evaluation and analysis load it
    _assert_same_logits(preact, load_model(str(output), prefer="keras").network, size=16)


def test_torchvision_resnet34_converts_with_the_same_logits(tmp_path):
    net = _randomised(TorchvisionResNet34(WIDTH, 100), seed=2)
    torch.save({"model": net.state_dict()}, tmp_path / "resnet34.pth")
    keras_model = convert_lib.keras_model_from_state_dict(
        convert_lib.load_state_dict(str(tmp_path / "resnet34.pth")), "resnet34", 100,
        image_size=32)
    _assert_same_logits(net, keras_model, size=32)


def test_the_command_writes_a_model_that_evaluate_accepts(preact, tmp_path, run_module):
    torch.save(preact.state_dict(), tmp_path / "ckpt.pth")
    output = tmp_path / "model.keras"
    result = run_module("tf_fastls0.convert", f"--pytorch={tmp_path / 'ckpt.pth'}",
                        "--model=preact_resnet18", "--num_classes=10", f"--output={output}",
                        "--image_size=16")
    assert result.returncode == 0, result.stderr[-2000:]
    _assert_same_logits(preact, load_model(str(output), prefer="keras").network, size=16, seed=3)


def test_a_checkpoint_that_does_not_fit_stops_the_command_with_one_line(preact, tmp_path,
                                                                       run_module):
    state = preact.state_dict()
    del state["layer2.0.shortcut.0.weight"]
    torch.save(state, tmp_path / "missing.pth")
    output = tmp_path / "refused.keras"
    result = run_module("tf_fastls0.convert", f"--pytorch={tmp_path / 'missing.pth'}",
                        "--model=preact_resnet18", "--num_classes=10", f"--output={output}")
    assert result.returncode == 2, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error")]
    assert "Traceback" not in result.stderr
    assert errors == [
        f"error: {tmp_path / 'missing.pth'} does not fit preact_resnet18: missing key "
        "layer2.0.shortcut.0.weight (expected shape (16, 8, 1, 1))"]
    assert not output.exists()


def _refusal(tmp_path, checkpoint, model="preact_resnet18", classes=10):
    output = tmp_path / "refused.keras"
    with pytest.raises(convert_lib.CheckpointError) as refusal:
        convert_lib.convert_pytorch(str(checkpoint), model, classes, str(output))
    assert not output.exists()
    assert len(str(refusal.value).splitlines()) == 1
    return str(refusal.value)


def test_mismatched_shapes_and_other_layouts_are_refused_naming_the_key(preact, tmp_path):
    torch.save(preact.state_dict(), tmp_path / "ten.pth")
    assert "linear.weight has shape (10, 64), expected (100, 64)" in _refusal(
        tmp_path, tmp_path / "ten.pth", classes=100)
    assert ("ten.pth does not fit resnet34: conv1.weight has shape (8, 3, 3, 3), expected "
            "(8, 3, 7, 7)") in _refusal(
        tmp_path, tmp_path / "ten.pth", model="resnet34")
    state = {**preact.state_dict(), "layer5.0.conv1.weight": torch.zeros(3, 3, 3, 3)}
    torch.save(state, tmp_path / "extra.pth")
    assert "unexpected key layer5.0.conv1.weight (shape (3, 3, 3, 3))" in _refusal(
        tmp_path, tmp_path / "extra.pth")


def test_a_file_that_is_no_pytorch_checkpoint_is_refused_naming_it(preact, tmp_path):
    torch.save(preact.state_dict(), tmp_path / "whole.pth")
    data = (tmp_path / "whole.pth").read_bytes()
    (tmp_path / "truncated.pth").write_bytes(data[:len(data) // 2])
    assert f"{tmp_path / 'truncated.pth'} is not a readable PyTorch checkpoint" in _refusal(
        tmp_path, tmp_path / "truncated.pth")
    (tmp_path / "notes.pth").write_text("not a checkpoint\n")
    assert f"{tmp_path / 'notes.pth'} is not a readable PyTorch checkpoint" in _refusal(
        tmp_path, tmp_path / "notes.pth")
    torch.save({"epoch": 3, "note": "no tensors"}, tmp_path / "empty.pth")
    assert f"{tmp_path / 'empty.pth'} holds no state dict" in _refusal(
        tmp_path, tmp_path / "empty.pth")
