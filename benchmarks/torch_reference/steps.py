"""Our training steps written plainly in PyTorch: standard, 1-step sAT, 1-step sTRADES (T) and
Fast-LS-l0 (T), each one call of a ``TorchStep``. A timing reference (``torch_step_cost``), not
a trainer: no data pipeline, schedule, logging or checkpoints, and no metrics (ours keeps epoch
means and accuracies; that difference is part of what the comparison measures).

The algorithm is ours (SPEC §2 and §5), so both sides do the same passes:

- every step: SGD, momentum 0.9, weight decay 5e-4 as PyTorch's coupled L2 (``torch.optim.SGD``
  is the rule ``training/optimizer.py`` reproduces), learning rate 0.05;
- adversarial steps: the clean logits in inference mode (``model.eval()``, no gradient), then one
  sPGD step (``sparse_pgd_1step``): a random start (p ~ U(-1, 1) in the box, m ~ N(0, 1)), one
  forward+backward for the gradients of p and m only, one update, one forward to score the new
  iterate; then the training-mode forwards (clean first where the loss has a clean term, as the
  reference code orders them) and one backward for the weights.

sPGD follows the authors' reference (CityU-MLO/sPGD, ``adversarial_training/spgd.py``: the
``MaskingA``/``MaskingB`` autograd functions, ``update_perturbation``, ``update_mask``) where our
``attacks/sparse_pgd.py`` does; deviations, all shared with ours:
- the reference loops ``t`` times over update-forward-backward, so its 1-step attack spends a
  second backward whose gradient is never used; here (and in ours) the last iterate is scored by a
  forward alone; and its backward passes are ``loss.backward()``, which also computes the
  weights' gradients, where this code (and ours) asks for the gradients of p and m alone
  (``torch.autograd.grad``). ``reference_cost=True`` spends both as the reference does (the
  same attack, the reference's cost);
- the top-k is ``torch.topk`` (the reference sorts all H*W scores), taken of sigmoid(m);
- the mask step is ``beta * sqrt(H*W) * g / ||g||`` (the reference's sqrt counts the mask's one
  channel too, the same number), no step where ``||g|| < 2e-10``;
- the variant (projected or unprojected gradient) is drawn per batch with probability 1/2, the
  training 'rand' mode; the draw is Python's ``random``, not our keyed draws;
- no restarts: with one step and patience 10 none can happen;
- images fooled before the attack are returned clean, the others take the iterate where its loss
  is >= the clean loss or it fools the model, without compacting the batch (as ours in training).
"""

import math
import random

import torch
from torch.nn import functional as F

SGD_LEARNING_RATE = 0.05
SGD_MOMENTUM = 0.9
WEIGHT_DECAY = 5e-4
TRADES_BETA = 6.0
SOFT_LABEL_MOMENTUM = 0.9
MIN_MASK_GRAD_NORM = 2e-10
METHODS = ("standard", "sat_1step", "strades_t_1step", "fast_ls_l0_t")


class _SparsePerturbation(torch.autograd.Function):
    """``p * M`` with sPGD's gradient (SPEC §2.3): ``dL/dp = g * M`` (projected) or ``g * s``
    (unprojected), ``dL/ds = sum_C g * p``; the top-k mask M is given, s = sigmoid(m)."""

    @staticmethod
    def forward(ctx, magnitude, soft, mask, projected):
        ctx.save_for_backward(magnitude, soft, mask)
        ctx.projected = projected
        return magnitude * mask

    @staticmethod
    def backward(ctx, grad):
        magnitude, soft, mask = ctx.saved_tensors
        magnitude_grad = grad * (mask if ctx.projected else soft)
        return magnitude_grad, (grad * magnitude).sum(dim=1, keepdim=True), None, None


def topk_mask(scores, k):
    """1 at the ``k`` largest of each image's H*W ``scores`` ``[B, 1, H, W]``, 0 elsewhere."""
    flat = scores.flatten(1)
    chosen = flat.topk(min(k, flat.shape[1]), dim=1).indices
    return torch.zeros_like(flat).scatter_(1, chosen, 1.0).view_as(scores)


def _clip_to_box(magnitude, images):
    return torch.minimum(torch.maximum(magnitude.clamp(-1.0, 1.0), -images), 1.0 - images)


def sparse_pgd_1step(model, images, labels, k, loss_fn, clean_logits, projected, alpha=0.25,
                     beta=0.25, reference_cost=False):
    """One sPGD step on ``images`` ``[B, C, H, W]`` in [0, 1]: each image's adversarial input
    (at most ``k`` pixels changed, values in [0, 1]). ``loss_fn(logits)`` gives the per-example
    loss to ascend; ``clean_logits`` are the model's inference logits of ``images``. The model
    runs in inference mode and is left in the mode it came in. ``reference_cost``: spend the
    reference code's passes (weight gradients in every attack backward, and a backward after the
    last forward; the module docstring); they accumulate in the parameters' ``.grad``, which
    the caller clears before its own backward."""
    training = model.training
    model.eval()
    batch, _, height, width = images.shape
    magnitude = _clip_to_box(torch.empty_like(images).uniform_(-1.0, 1.0), images)
    mask_logits = torch.randn(batch, 1, height, width, device=images.device)
    magnitude_grad, mask_grad, _ = _gradients(model, images, magnitude, mask_logits, k, loss_fn,
                                              projected, reference_cost)
    with torch.no_grad():
        magnitude = _clip_to_box(magnitude + alpha * magnitude_grad.sign(), images)
        norm = mask_grad.flatten(1).norm(dim=1).view(batch, 1, 1, 1)
        step = beta * math.sqrt(height * width) * mask_grad / norm.clamp_min(MIN_MASK_GRAD_NORM)
        mask_logits = mask_logits + torch.where(norm >= MIN_MASK_GRAD_NORM, step, 0.0)
    if reference_cost:  # the reference's last backward, whose gradients are never used
        *_, logits = _gradients(model, images, magnitude, mask_logits, k, loss_fn, projected,
                                reference_cost)
    with torch.no_grad():
        candidate = images + magnitude * topk_mask(torch.sigmoid(mask_logits), k)
        if not reference_cost:
            logits = model(candidate)
        fooled = logits.argmax(dim=1) != labels
        take = (loss_fn(logits) >= loss_fn(clean_logits)) | fooled
        take &= clean_logits.argmax(dim=1) == labels  # fooled before the attack: left clean
        adversarial = torch.where(take.view(batch, 1, 1, 1), candidate, images)
    model.train(training)
    return adversarial


def _gradients(model, images, magnitude, mask_logits, k, loss_fn, projected, reference_cost):
    """The loss's gradients with respect to p and m at ``x + p * M``, and the logits there;
    with ``reference_cost`` through ``loss.backward()`` (the weights' gradients too)."""
    magnitude = magnitude.detach().requires_grad_()
    mask_logits = mask_logits.detach().requires_grad_()
    soft = torch.sigmoid(mask_logits)
    mask = topk_mask(soft.detach(), k)
    logits = model(images + _SparsePerturbation.apply(magnitude, soft, mask, projected))
    loss = loss_fn(logits).sum()
    if reference_cost:
        loss.backward()
        return magnitude.grad, mask_logits.grad, logits.detach()
    return (*torch.autograd.grad(loss, [magnitude, mask_logits]), logits.detach())


def sparse_noise(images, k):
    """N-FGSM's sparse noise for l0 (SPEC §5): U{0..2k} random pixels of each image get U(-1, 1)
    on every channel, then the image is clipped to [0, 1]."""
    batch, _, height, width = images.shape
    counts = torch.randint(0, 2 * k + 1, (batch, 1), device=images.device)
    ranks = torch.rand(batch, height * width, device=images.device).argsort(1).argsort(1)
    chosen = (ranks < counts).view(batch, 1, height, width)
    noise = torch.empty_like(images).uniform_(-1.0, 1.0) * chosen
    return (images + noise).clamp(0.0, 1.0)


def kl_divergence(clean_logits, adversarial_logits):
    """Per example ``KL(softmax clean || softmax adversarial)``, gradients through both."""
    clean_log_probabilities = F.log_softmax(clean_logits, dim=1)
    return (clean_log_probabilities.exp()
            * (clean_log_probabilities - F.log_softmax(adversarial_logits, dim=1))).sum(dim=1)


def soft_cross_entropy(targets, logits):
    """Per example ``-sum_j t_j log softmax(logits)_j``."""
    return -(targets * F.log_softmax(logits, dim=1)).sum(dim=1)


class TorchStep:
    """One training step of ``method`` (one of ``METHODS``) on ``model``: call it with a batch
    ``(images [B, C, H, W], labels [B], indices [B])``; returns the loss as a Python float (which
    waits for the device). ``k``: the training l0 budget; ``soft_labels``: the self-adaptive
    buffer's initial rows ``[N, K]`` (Fast-LS-l0), indexed by ``indices``; ``reference_cost``:
    the attack spends the reference code's passes (``sparse_pgd_1step``)."""

    def __init__(self, method, model, k, soft_labels=None, seed=0, reference_cost=False):
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; known: {', '.join(METHODS)}")
        self.method, self.model, self.k = method, model, k
        self.optimizer = torch.optim.SGD(model.parameters(), lr=SGD_LEARNING_RATE,
                                         momentum=SGD_MOMENTUM, weight_decay=WEIGHT_DECAY)
        self.soft_labels = soft_labels
        self.variants = random.Random(seed)
        self.reference_cost = reference_cost

    def __call__(self, images, labels, indices):
        loss = getattr(self, "_" + self.method)(images, labels, indices)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.item()

    def _standard(self, images, labels, indices):
        self.model.train()
        return F.cross_entropy(self.model(images), labels)

    def _attack(self, images, labels, loss_fn=None):
        with torch.no_grad():
            self.model.eval()
            clean_logits = self.model(images)
        loss_fn = loss_fn or (lambda logits: F.cross_entropy(logits, labels, reduction="none"))
        adversarial = sparse_pgd_1step(self.model, images, labels, self.k, loss_fn, clean_logits,
                                       projected=self.variants.random() < 0.5,
                                       reference_cost=self.reference_cost)
        self.model.train()
        return adversarial

    def _sat_1step(self, images, labels, indices):
        adversarial = self._attack(images, labels)
        return F.cross_entropy(self.model(adversarial), labels)

    def _strades_t_1step(self, images, labels, indices):
        adversarial = self._attack(images, labels)
        clean_logits = self.model(images)
        adversarial_logits = self.model(adversarial)
        return (F.cross_entropy(clean_logits, labels)
                + TRADES_BETA * kl_divergence(clean_logits, adversarial_logits).mean())

    def _fast_ls_l0_t(self, images, labels, indices):
        """1-step sTRADES (T) with self-adaptive soft labels (attacked through CE to the rows,
        our default ``--soft_label_attack_target=soft``) and N-FGSM noise (paper Eq. 10)."""
        images = sparse_noise(images, self.k)
        rows = self.soft_labels[indices]
        adversarial = self._attack(images, labels, lambda logits: soft_cross_entropy(rows, logits))
        clean_logits = self.model(images)
        adversarial_logits = self.model(adversarial)
        rows = (SOFT_LABEL_MOMENTUM * rows
                + (1.0 - SOFT_LABEL_MOMENTUM) * F.softmax(clean_logits.detach(), dim=1))
        weights = rows.max(dim=1).values
        clean = (weights * soft_cross_entropy(rows, clean_logits)).sum() / weights.sum()
        self.soft_labels[indices] = rows
        return clean + TRADES_BETA * kl_divergence(clean_logits, adversarial_logits).mean()
