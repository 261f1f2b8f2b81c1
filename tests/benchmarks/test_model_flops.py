"""The FLOP count of ``benchmarks.model_flops``: right for a known network, and it shows the cost
of running a CIFAR-style stem on ImageNet-sized images."""

import pytest

from benchmarks.model_flops import count


def test_resnet34_costs_what_torchvision_reports():
    # torchvision lists resnet34 at 3.66 GMACs per 224x224 image (two FLOPs each); the count
    # also holds the few ReLU, BatchNorm and pooling operations around them.
    (row,) = count(["resnet34"], image_size=224, num_classes=1000, width=1.0)
    assert row["flops"] == pytest.approx(2 * 3.66e9, rel=0.02)
    assert row["parameters"] == 21_797_672


def test_the_cifar_style_network_costs_an_order_of_magnitude_more_at_the_same_size():
    rows = count(["resnet34", "preact_resnet34"], image_size=64, num_classes=10, width=0.25)
    assert rows[0]["ratio_to_first"] == 1.0
    # a 3x3 stride-1 stem runs the first stage at full resolution: 16x the pixels of the ImageNet
    # stem (7x7 stride 2, then a stride-2 max-pool)
    assert rows[1]["ratio_to_first"] > 8
