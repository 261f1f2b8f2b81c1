"""PreAct ResNet-18 in PyTorch, written to match ``tf_fastls0/models/preact_resnet.py``.

The same network as ours (SPEC §6): 3x3 stem conv without bias; four stages of two
pre-activation blocks (BN -> softplus -> conv3x3 -> BN -> softplus -> conv3x3, the shortcut a 1x1
conv of the block's first activation when the shape changes); head BN -> ReLU -> global average
pool -> linear. Convolutions have no bias; BatchNorm momentum 0.1 (PyTorch's counting; ours 0.9
in Keras') and epsilon 1e-5; weights start from PyTorch's defaults, which ours copy. ``width``
scales every channel count exactly as ours does. Differences that do not change the cost:
the strided convolutions pad one pixel on every side (PyTorch's rule; ours pads "same", bottom
and right), and images are NCHW (PyTorch's default layout) where ours are NHWC. The model does
no normalisation, as ours: images in [0, 1] go in, logits come out.
"""

from torch import nn

STAGE_CHANNELS = (64, 128, 256, 512)
STAGE_STRIDES = (1, 2, 2, 2)


def scaled_channels(channels, width):
    """``channels`` scaled by the width multiplier, at least 1 (ours: ``scaled_channels``)."""
    return max(1, int(round(channels * width)))


class PreActBlock(nn.Module):
    def __init__(self, in_channels, channels, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels, eps=1e-5, momentum=0.1)
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels, eps=1e-5, momentum=0.1)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, padding=1, bias=False)
        self.act = nn.Softplus()
        self.shortcut = (nn.Conv2d(in_channels, channels, 1, stride, bias=False)
                         if stride != 1 or in_channels != channels else None)

    def forward(self, x):
        first = self.act(self.bn1(x))
        shortcut = x if self.shortcut is None else self.shortcut(first)
        y = self.conv1(first)
        y = self.conv2(self.act(self.bn2(y)))
        return y + shortcut


class PreActResNet(nn.Module):
    def __init__(self, blocks_per_stage=(2, 2, 2, 2), num_classes=10, width=1.0, in_channels=3):
        super().__init__()
        channels = scaled_channels(STAGE_CHANNELS[0], width)
        self.stem = nn.Conv2d(in_channels, channels, 3, 1, padding=1, bias=False)
        blocks = []
        for stage, (stage_channels, stride) in enumerate(zip(STAGE_CHANNELS, STAGE_STRIDES)):
            for block in range(blocks_per_stage[stage]):
                out_channels = scaled_channels(stage_channels, width)
                blocks.append(PreActBlock(channels, out_channels, stride if block == 0 else 1))
                channels = out_channels
        self.blocks = nn.Sequential(*blocks)
        self.head_bn = nn.BatchNorm2d(channels, eps=1e-5, momentum=0.1)
        self.logits = nn.Linear(channels, num_classes)

    def forward(self, images):
        x = self.blocks(self.stem(images))
        x = nn.functional.relu(self.head_bn(x))
        return self.logits(x.mean(dim=(2, 3)))


def preact_resnet18(num_classes=10, width=1.0):
    return PreActResNet((2, 2, 2, 2), num_classes, width)
