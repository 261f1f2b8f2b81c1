"""The small CNN in PyTorch, written to match ``tf_fastls0/models/small_cnn.py``.

The same network as ours: three 3x3 convolutions with bias (32, 64, 128 channels times ``width``,
strides 1, 2, 2), each followed by BatchNorm (momentum 0.1 in PyTorch's counting, ours 0.9 in
Keras'; epsilon 1e-5) and ReLU, then global average pooling and a linear layer. Weights start
from PyTorch's defaults, which ours copy (``models/initializers.py``). As for PreAct ResNet-18
(``preact_resnet.py``), the strided convolutions pad one pixel on every side where ours pad
"same" (bottom and right), and images are NCHW; neither changes the cost.
"""

from torch import nn

from benchmarks.torch_reference.preact_resnet import scaled_channels

CHANNELS_AND_STRIDES = ((32, 1), (64, 2), (128, 2))


class SmallCNN(nn.Module):
    def __init__(self, num_classes=10, width=1.0, in_channels=3):
        super().__init__()
        layers = []
        channels = in_channels
        for out_channels, stride in CHANNELS_AND_STRIDES:
            out_channels = scaled_channels(out_channels, width)
            layers += [nn.Conv2d(channels, out_channels, 3, stride, padding=1),
                       nn.BatchNorm2d(out_channels, eps=1e-5, momentum=0.1), nn.ReLU()]
            channels = out_channels
        self.features = nn.Sequential(*layers)
        self.logits = nn.Linear(channels, num_classes)

    def forward(self, images):
        return self.logits(self.features(images).mean(dim=(2, 3)))


def small_cnn(num_classes=10, width=1.0):
    return SmallCNN(num_classes, width)
