"""Our sparse attacks as Adversarial Robustness Toolbox (ART) evasion attacks; needs the ``art``
extra (``pip install -e ".[art]"``).

``SparsePGD``, ``SparseRS`` and ``SparseAutoAttack`` are ``art.attacks.EvasionAttack`` classes
over an ``art.estimators.classification.TensorFlowV2Classifier``, with ART's ``generate(x, y)``:
numpy images in, numpy adversarial images out (labels ``y`` as integers ``[N]`` or ``[N, 1]``, or
one-hot ``[N, nb_classes]`` as ART takes them; without them the estimator's predictions). ``x`` and
``y`` are checked as every entry point checks its arrays (``utils/inputs.py``): float ``x`` in
[0, 1] (uint8 refused: scale by 1/255), labels within the estimator's classes. Each calls the
attack of the registry (``tf_fastls0.attacks.ATTACKS``) with the paper's defaults
(``attacks/paper_budget.py``); ``eps`` counts pixels, or under
``threat`` the patches, lines or groups (``attacks/threats.py``).

Pixel space: the attacks perturb the images ``generate`` is given, which must lie in the
estimator's ``clip_values``, and these must be ``(0, 1)`` (our attacks set pixels to the ends of
that box); anything else is refused with one line. The model they attack is the estimator's own
forward pass, ``preprocessing`` (e.g. a normalising ``(mean, std)``) and preprocessing defences
included, so a perturbation is found in the pixels the user holds, before any normalisation.
Preprocessing must be written in TensorFlow (ART's ``all_framework_preprocessing``) so gradients
pass through it. ``channels_first`` estimators are attacked in NHWC and answered in NCHW. The
model should return logits (sPGD's cross-entropy and Sparse-RS's margin assume them).

Randomness is keyed by each image's position in ``x`` (``utils/keyed_random.py``): the same
``x``, ``y`` and ``seed`` give the same draws at any ``batch_size``. The images found can still
differ between batch sizes: the model's outputs for an image may differ in the last bits with the
batch it is computed in, which can move sPGD's gradient steps (a few images in 24 on a small CNN,
the same ones fooled).
"""

import numpy as np
import tensorflow as tf
from art.attacks.attack import EvasionAttack
from art.estimators.classification import TensorFlowV2Classifier

from tf_fastls0.attacks import ATTACKS, paper_budget, threats
from tf_fastls0.attacks.sparse_autoattack import SparseAutoAttack as Cascade
from tf_fastls0.utils import inputs
from tf_fastls0.utils.cli import UsageError

PIXEL_RANGE = (0.0, 1.0)


class _SparseAttack(EvasionAttack):
    """What the three attacks share: the estimator checks, the pixel-space model, threats, labels
    and batching. A subclass gives ``_attack_for(model_fn, threat)``: the function
    ``(images, labels, keys) -> adversarial images`` (numpy) that attacks one batch."""

    attack_params = EvasionAttack.attack_params + [
        "eps", "seed", "batch_size", "threat", "patch_size", "placement", "group_map"]
    _estimator_requirements = (TensorFlowV2Classifier,)

    def __init__(self, estimator, *, eps=20, seed=0, batch_size=128, threat="pixels",
                 patch_size=3, placement="anywhere", group_map=None):
        if not isinstance(estimator, TensorFlowV2Classifier):
            raise TypeError(f"{type(self).__name__} attacks an ART TensorFlowV2Classifier, not a "
                            f"{type(estimator).__name__}")
        _check_estimator(estimator)
        super().__init__(estimator=estimator)
        self.eps, self.seed, self.batch_size = eps, seed, batch_size
        self.threat, self.patch_size, self.placement = threat, patch_size, placement
        self.group_map = group_map
        self._check_params()

    def _check_params(self):
        super()._check_params()
        if int(self.eps) != self.eps or self.eps < 0:
            raise ValueError(f"eps must be an integer >= 0, got {self.eps!r}")
        if int(self.batch_size) != self.batch_size or self.batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1, got {self.batch_size!r}")
        if self.threat not in threats.THREATS:
            raise ValueError(f"unknown threat {self.threat!r}: choose one of "
                             f"{', '.join(threats.THREATS)}")

    def generate(self, x, y=None, **kwargs):
        """Adversarial versions of ``x`` (``[N, H, W, C]``, or ``[N, C, H, W]`` for a
        ``channels_first`` estimator), each differing from its image in at most ``eps`` pixels
        (or structures); ``y``: true labels, integers ``[N]`` or one-hot ``[N, K]``."""
        estimator = self.estimator
        _check_estimator(estimator)
        x = np.asarray(inputs.check_images(np.asarray(x), self._who, name="x"), np.float32)
        images = np.transpose(x, (0, 2, 3, 1)) if estimator.channels_first else x
        labels = self._labels(x, y)
        threat = self._threat(images.shape[1:])

        def model_fn(batch):
            if estimator.channels_first:
                batch = tf.transpose(batch, (0, 3, 1, 2))
            return estimator._predict_framework(batch, training_mode=False)

        attack = self._attack_for(model_fn, threat)
        adversarial = np.empty_like(images)
        for start in range(0, len(images), self.batch_size):
            rows = slice(start, start + self.batch_size)
            keys = np.arange(start, start + len(images[rows]), dtype=np.int32)
            adversarial[rows] = attack(images[rows], labels[rows], keys)
        return np.transpose(adversarial, (0, 3, 1, 2)) if estimator.channels_first else adversarial

    def _labels(self, x, y):
        if y is None:
            return np.argmax(self.estimator.predict(x, batch_size=self.batch_size), axis=1
                             ).astype(np.int32)
        y = np.asarray(y)
        one_hot = y.ndim == 2 and y.shape[1] == self.estimator.nb_classes > 1
        labels = inputs.check_labels(np.argmax(y, axis=1) if one_hot else y, len(x), self._who,
                                     name="y")
        inputs.check_label_range(labels, self.estimator.nb_classes, self._who, name="y")
        return labels

    @property
    def _who(self):
        return f"{type(self).__name__}.generate"

    def _threat(self, image_shape):
        """The structured threat, or None for pixels; refuses a budget it cannot hold."""
        if self.threat == "pixels":
            return None
        try:
            threat = threats.make_threat(self.threat, image_shape, patch_size=self.patch_size,
                                         placement=self.placement, group_map=self.group_map)
            threats.check_budget(threat, "eps", int(self.eps))
        except UsageError as error:
            raise ValueError(str(error)) from None
        return threat


class SparsePGD(_SparseAttack):
    """sPGD (Zhong et al., ICML 2024; ``attacks/sparse_pgd.py``): ``iterations`` steps of the
    white-box attack, unprojected gradient unless ``projected``, cross-entropy loss."""

    attack_params = _SparseAttack.attack_params + [
        "iterations", "projected", "patience", "alpha", "beta"]

    def __init__(self, estimator, *, eps=20, iterations=paper_budget.ITERATIONS, projected=False,
                 patience=paper_budget.PATIENCE, alpha=0.25, beta=0.25, **kwargs):
        self.iterations, self.projected, self.patience = iterations, projected, patience
        self.alpha, self.beta = alpha, beta
        super().__init__(estimator, eps=eps, **kwargs)

    def _attack_for(self, model_fn, threat):
        def attack(images, labels, keys):
            variant = ATTACKS["spgd_proj" if self.projected else "spgd_unproj"]
            return variant(model_fn, images, labels, eps=int(self.eps),
                           iterations=int(self.iterations), patience=self.patience,
                           alpha=self.alpha, beta=self.beta, keys=keys, seed=self.seed,
                           threat=threat, compact=True).adversarial.numpy()
        return attack


class SparseRS(_SparseAttack):
    """Sparse-RS (Croce et al., AAAI 2022; ``attacks/sparse_rs.py``): the black-box random
    search, ``queries`` forward passes per image; only the estimator's outputs are used."""

    attack_params = _SparseAttack.attack_params + ["queries", "p_init"]

    def __init__(self, estimator, *, eps=20, queries=paper_budget.QUERIES, p_init=0.8, **kwargs):
        self.queries, self.p_init = queries, p_init
        super().__init__(estimator, eps=eps, **kwargs)

    def _attack_for(self, model_fn, threat):
        def attack(images, labels, keys):
            return ATTACKS["rs"](model_fn, images, labels, eps=int(self.eps),
                                 queries=int(self.queries), p_init=self.p_init, keys=keys,
                                 seed=self.seed, threat=threat).adversarial.numpy()
        return attack


class SparseAutoAttack(_SparseAttack):
    """Sparse-AutoAttack (``attacks/sparse_autoattack.py``): sPGD unprojected, sPGD projected and
    Sparse-RS, each on the images the stages before it left unbroken; ``attacks`` picks other
    attacks of the registry (``tf_fastls0.attacks.ATTACKS``). An image no stage breaks comes back
    unchanged."""

    attack_params = _SparseAttack.attack_params + ["iterations", "queries", "patience", "attacks"]

    def __init__(self, estimator, *, eps=20, iterations=paper_budget.ITERATIONS,
                 queries=paper_budget.QUERIES, patience=paper_budget.PATIENCE, attacks="saa",
                 **kwargs):
        self.iterations, self.queries, self.patience = iterations, queries, patience
        self.attacks = attacks
        super().__init__(estimator, eps=eps, **kwargs)

    def _attack_for(self, model_fn, threat):
        cascade = Cascade(model_fn, eps=int(self.eps), iterations=int(self.iterations),
                          queries=int(self.queries), seed=self.seed, patience=self.patience,
                          threat=threat)  # traced once, for every batch of this call

        def attack(images, labels, keys):
            return cascade([(images, labels, keys)], attacks=self.attacks).adversarial
        return attack


def _check_estimator(estimator):
    """Refuses, in one line, an estimator whose pixel space is not [0, 1] or whose preprocessing
    gradients cannot pass through."""
    clip = estimator.clip_values
    if clip is None or np.shape(clip) != (2,) or tuple(np.asarray(clip, float)) != PIXEL_RANGE:
        shown = None if clip is None else np.asarray(clip).tolist()
        raise ValueError(f"the estimator's clip_values are {shown}; the sparse attacks need "
                         "images in [0, 1]: clip_values=(0, 1)")
    if not estimator.all_framework_preprocessing:
        raise ValueError("the estimator's preprocessing is not all TensorFlow "
                         "(all_framework_preprocessing is False): the attacks need its gradients")
