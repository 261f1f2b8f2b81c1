"""The PyTorch reference steps of ``benchmarks.torch_step_cost``: its sPGD step keeps the l0
budget and the [0, 1] box, every method's step trains, Fast-LS-l0 moves its soft labels."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.torch_reference.preact_resnet import preact_resnet18
from benchmarks.torch_reference.small_cnn import small_cnn
from benchmarks.torch_reference.steps import METHODS, TorchStep, sparse_pgd_1step, topk_mask
from tf_fastls0.models.preact_resnet import preact_resnet18 as keras_preact_resnet18
from tf_fastls0.models.small_cnn import small_cnn as keras_small_cnn

WIDTH = 0.0625
# Tiny networks gain nothing from threads, and OpenMP's threads wait long on a busy machine.
torch.set_num_threads(1)


def tiny_model(seed=0):
    torch.manual_seed(seed)
    return preact_resnet18(num_classes=4, width=WIDTH)


def ce(labels):
    return lambda logits: torch.nn.functional.cross_entropy(logits, labels, reduction="none")


def test_the_network_has_ours_parameter_count():
    ours = keras_preact_resnet18((32, 32, 3), 10, width=0.25)
    trainable = sum(int(np.prod(v.shape)) for v in ours.trainable_variables)
    assert sum(p.numel() for p in preact_resnet18(10, 0.25).parameters()) == trainable


@pytest.mark.parametrize("width", [0.25, 1.0, 2.0])
def test_the_small_cnn_has_ours_parameter_count(width):
    ours = keras_small_cnn((32, 32, 3), 10, width=width)
    trainable = sum(int(np.prod(v.shape)) for v in ours.trainable_variables)
    assert sum(p.numel() for p in small_cnn(10, width).parameters()) == trainable


@settings(max_examples=15, deadline=None)
@given(k=st.integers(0, 40), seed=st.integers(0, 2**16), projected=st.booleans(),
       reference_cost=st.booleans())
def test_one_spgd_step_changes_at_most_k_pixels_within_the_box(k, seed, projected,
                                                               reference_cost):
    model = tiny_model(seed % 3)
    torch.manual_seed(seed)
    images = torch.rand(3, 3, 6, 6)
    with torch.no_grad():
        clean_logits = model.eval()(images)
    labels = clean_logits.argmax(dim=1)  # clean images right: every image is attacked
    adversarial = sparse_pgd_1step(model, images, labels, k, ce(labels), clean_logits, projected,
                                   reference_cost=reference_cost)
    assert adversarial.shape == images.shape and adversarial.dtype == images.dtype
    changed = (adversarial != images).any(dim=1).flatten(1).sum(dim=1)
    assert changed.max().item() <= k
    assert adversarial.min().item() >= 0.0 and adversarial.max().item() <= 1.0


def test_images_misclassified_before_the_attack_come_back_clean():
    model = tiny_model()
    images = torch.rand(4, 3, 6, 6)
    with torch.no_grad():
        clean_logits = model.eval()(images)
    wrong = (clean_logits.argmax(dim=1) + 1) % 4
    adversarial = sparse_pgd_1step(model, images, wrong, 10, ce(wrong), clean_logits, False)
    assert torch.equal(adversarial, images)


def test_topk_mask_keeps_exactly_k_positions():
    mask = topk_mask(torch.rand(2, 1, 5, 5), 7)
    assert mask.flatten(1).sum(dim=1).tolist() == [7.0, 7.0]


@pytest.mark.parametrize("method", METHODS)
def test_every_method_takes_a_training_step(method):
    model = tiny_model()
    images = torch.rand(4, 3, 8, 8)
    labels = torch.tensor([0, 1, 2, 3])
    soft_labels = torch.nn.functional.one_hot(torch.arange(8) % 4, 4).float()
    before = [p.detach().clone() for p in model.parameters()]
    loss = TorchStep(method, model, k=5, soft_labels=soft_labels)(images, labels,
                                                                  torch.arange(4))
    assert np.isfinite(loss)
    assert model.training
    assert any(not torch.equal(b, p) for b, p in zip(before, model.parameters()))


def test_the_reference_cost_gives_the_same_attack():
    """The reference's extra passes change the cost only: the same draws give the same images."""
    model = tiny_model()
    images = torch.rand(3, 3, 6, 6)
    with torch.no_grad():
        clean_logits = model.eval()(images)
    labels = clean_logits.argmax(dim=1)
    results = []
    for reference_cost in (False, True):
        torch.manual_seed(7)
        results.append(sparse_pgd_1step(model, images, labels, 5, ce(labels), clean_logits,
                                        False, reference_cost=reference_cost))
    assert torch.allclose(results[0], results[1])
    assert any(p.grad is not None for p in model.parameters())  # the reference's weight grads


def test_fast_ls_l0_moves_the_batch_soft_labels_only():
    soft_labels = torch.nn.functional.one_hot(torch.arange(8) % 4, 4).float()
    initial = soft_labels.clone()
    step = TorchStep("fast_ls_l0_t", tiny_model(), k=5, soft_labels=soft_labels)
    step(torch.rand(4, 3, 8, 8), torch.tensor([0, 1, 2, 3]), torch.arange(4))
    assert not torch.equal(soft_labels[:4], initial[:4])
    assert torch.equal(soft_labels[4:], initial[4:])
    assert torch.allclose(soft_labels.sum(dim=1), torch.ones(8))
    assert (soft_labels[:4].argmax(dim=1) == torch.arange(4)).all()  # 0.9 of the label stays


def test_an_unknown_method_is_refused():
    with pytest.raises(ValueError, match="sat_20step"):
        TorchStep("sat_20step", tiny_model(), k=5)
