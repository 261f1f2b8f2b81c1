"""ATTA's carried perturbations (Zheng et al., CVPR 2020, "Efficient Adversarial Training with
Transferable Adversarial Examples"), adapted to l0: ``--method=atta``.

ATTA accumulates each example's adversarial perturbation across epochs: the attack of epoch
``e`` starts from the perturbation the example ended epoch ``e - 1`` with, so a 1-step attack
keeps building on the steps of earlier epochs (the paper's ATTA-1). Source: the paper's Alg. 1
and the reference code haizhongzheng/ATTA (``train_atta_cifar.py``; ``adaptive_data_aug.py``'s
``atta_aug`` / ``inverse_atta_aug``), which keeps one perturbation per training image in the
*padded* image's frame, crops and flips it with the image each epoch, starts the attack from it
and writes the attacked window back through the inverse crop and flip. Its training objective is plain CE on
the adversarial examples (the paper's "ATTA" row: the objective here is sAT's, ``sparse_at``;
"ATTA + S&N" adds ``--soft_labels=self_adaptive --nfgsm_noise``).

l0 adaptation: the perturbation is sparse, so each example keeps at most ``train_eps`` pixels:
a row ``[train_eps, 1 + C]`` of (position in the padded frame or -1, the C channel magnitudes
of sPGD's ``p`` there). Each step, for the batch's examples:

1. ``lookup``: the stored pixels are moved into this epoch's augmented frame with the crop
   offsets and flip the pipeline drew for (seed, epoch, example index)
   (``data.pipeline.crop_and_flip_draws``); pixels outside the crop window drop out;
2. sPGD starts there (``sparse_pgd(initial=...)``: the carried pixels keep their magnitudes and
   lead the mask; free places are drawn as sPGD's random start, as in the first epoch, where
   nothing is stored yet);
3. ``store``: the attack's last iterate (its ``train_eps`` mask pixels and their magnitudes) is
   moved back to the padded frame and replaces the example's row.

The step trains on that same last iterate ``x + mask * p`` (the record's ``last_iterate``),
as the reference trains on ``x_adv_next``, the iterate it writes back (``train_atta_cifar.py``,
``train``), not on sPGD's best input (which is the clean image where the step lowered the loss).

Flips and crops are therefore handled exactly, as the reference does, by keeping the
perturbation in the un-augmented (padded) frame. Without ``--augment`` the frame is the image.
ImageNet's random-resized crops do not map pixels one to one and are refused (``--method=atta``
needs ``--augment`` off or the pad-crop-flip augmentation).

Deviations from the reference: (a) it carries the l-inf perturbation ``delta`` and writes back
only the crop window (pixels outside it stay); with an l0 budget the new mask has ``train_eps``
pixels in the window, so the whole row is replaced and pixels outside the window are dropped;
(b) it carries the perturbation of its PGD step; sPGD also keeps mask logits, of which only the
ranking carries (``sparse_pgd.CARRIED_LOGIT_MARGIN``); (c) it starts from ``0.001 * N(0, 1)``;
the first epoch here is sPGD's usual random start; (d) the reference's learned step sizes
(``alpha``) belong to its layer-wise variant and are not used: sPGD's own step sizes are; (e) its
PGD steps every example, where sPGD leaves an image it misclassifies before the attack at its
start, so such an example trains on, and carries on, its start (the carried pixels, or the
random start) unmoved.

Reset (the reference's ``--epochs-reset``, 10 for CIFAR-10 in ``train_atta_cifar.py`` and its
``data-config/cifar-*.json``): before its 1-based epochs 10, 20, ... the reference replaces every
stored perturbation with a fresh start. Here ``lookup`` ignores the stored rows in the 0-based
epochs e with (e + 1) % ``--atta_reset_epochs`` == 0, so those epochs' attacks start as the first
epoch's do and the rows they store carry on. Being a function of the epoch alone, it needs no
state of its own, and a run resumed in or across a reset epoch does the same. The examples a
reset epoch leaves out (``drop_remainder``: fewer than a batch) keep their row for one more
epoch, where the reference has none.

Under tf.distribute the rows of all replicas are gathered and written into every replica's copy
(``replicated_rows.py``); the variable is in every checkpoint, so a resumed run carries on
exactly. Memory: ``N * train_eps * (1 + C)`` float32 per replica (CIFAR-10 at eps 120: 96 MB).
Cost: the buffer's gather and scatter only; the attack is the usual 1-step sPGD.
"""

import dataclasses

import tensorflow as tf

from tf_fastls0.data.pipeline import CROP_PADDING, crop_and_flip_draws
from tf_fastls0.losses.records import AddOn
from tf_fastls0.training import replicated_rows
from tf_fastls0.utils.cli import UsageError
from tf_fastls0.utils.settings import setting

EMPTY = -1.0  # the position of an unused place in a row


@dataclasses.dataclass(frozen=True)
class AttaSettings:
    reset_epochs: int = setting(
        10, "ATTA: every carried perturbation is discarded before every this many epochs "
        "(before the 10th, 20th, ... epoch by default, as the reference's --epochs-reset); 0: "
        "never.", lower=0)


def starts_afresh(epoch, reset_epochs):
    """Whether 0-based ``epoch`` ignores the stored perturbations: the reference resets them
    before its 1-based epochs ``reset_epochs``, ``2 reset_epochs``, ...; 0 never resets."""
    if not reset_epochs:
        return tf.constant(False)
    return tf.equal(tf.math.floormod(tf.cast(epoch, tf.int64) + 1, reset_epochs), 0)


class PerturbationBuffer:
    """One sparse perturbation per training example, kept in the padded image's frame."""

    def __init__(self, num_examples, image_shape, eps, augment, seed,
                 reset_epochs=AttaSettings.reset_epochs):
        self.height, self.width, self.channels = image_shape
        self.eps = eps
        self.seed = seed
        self.reset_epochs = reset_epochs
        self.padding = CROP_PADDING if augment else 0
        self.augment = augment
        rows = tf.concat([tf.fill([num_examples, eps, 1], EMPTY),
                          tf.zeros([num_examples, eps, self.channels])], axis=-1)
        self.rows = tf.Variable(rows, trainable=False, name="atta_perturbations",
                                aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)

    @property
    def frame_width(self):
        return self.width + 2 * self.padding

    def _draws(self, indices, epoch):
        """Crop offsets ``[B, 2]`` and flips ``[B]`` of these examples' images this epoch."""
        if not self.augment:
            batch = tf.shape(indices)[0]
            return tf.zeros([batch, 2], tf.int32), tf.zeros([batch], tf.bool)
        return crop_and_flip_draws(indices, self.seed, epoch)

    def lookup(self, indices, epoch):
        """``(mask [B, H, W, 1], magnitude [B, H, W, C])``: the carried perturbations in the
        frame of this epoch's augmented images."""
        rows = tf.gather(self.rows, indices)
        offsets, flips = self._draws(indices, epoch)
        position = tf.cast(rows[..., 0], tf.int32)
        position = tf.where(starts_afresh(epoch, self.reset_epochs), int(EMPTY), position)
        row = position // self.frame_width - offsets[:, :1]
        column = position % self.frame_width - offsets[:, 1:]
        inside = ((position >= 0) & (row >= 0) & (row < self.height) & (column >= 0)
                  & (column < self.width))
        column = tf.where(flips[:, None], self.width - 1 - column, column)
        pixels = self.height * self.width
        flat = tf.where(inside, row * self.width + column, pixels)  # outside: a dropped column
        batch = tf.shape(rows)[0]
        where = tf.stack([tf.broadcast_to(tf.range(batch)[:, None], tf.shape(flat)), flat], -1)
        mask = tf.scatter_nd(where, tf.cast(inside, tf.float32), [batch, pixels + 1])
        magnitude = tf.scatter_nd(where, rows[..., 1:] * tf.cast(inside, tf.float32)[..., None],
                                  [batch, pixels + 1, self.channels])
        return (tf.reshape(mask[:, :pixels], [batch, self.height, self.width, 1]),
                tf.reshape(magnitude[:, :pixels], [batch, self.height, self.width,
                                                   self.channels]))

    def rows_of(self, indices, epoch, mask, magnitude):
        """The buffer rows of the perturbations ``(mask, magnitude)`` of this epoch's frame."""
        batch = tf.shape(mask)[0]
        chosen, flat = tf.math.top_k(tf.reshape(tf.cast(mask, tf.float32), [batch, -1]),
                                     k=self.eps)
        used = chosen > 0.5
        values = tf.gather(tf.reshape(magnitude, [batch, -1, self.channels]), flat, batch_dims=1)
        offsets, flips = self._draws(indices, epoch)
        row, column = flat // self.width, flat % self.width
        column = tf.where(flips[:, None], self.width - 1 - column, column)
        position = (row + offsets[:, :1]) * self.frame_width + column + offsets[:, 1:]
        position = tf.where(used, tf.cast(position, tf.float32), EMPTY)
        values = values * tf.cast(used, tf.float32)[..., None]
        return tf.concat([position[..., None], tf.cast(values, tf.float32)], axis=-1)

    def store(self, indices, epoch, mask, magnitude):
        """Replaces these examples' rows with the attack's last iterate (every replica's)."""
        replicated_rows.store_rows(self.rows, indices,
                                   self.rows_of(indices, epoch, mask, magnitude))


def make_buffer(config, facts):
    """The record's ``state``: one row per training example (``facts``: ``recipe.DataFacts``)."""
    return PerturbationBuffer(facts.num_examples, facts.image_shape, config.train_eps,
                              facts.augment, config.seed, config.atta.reset_epochs)


def attack_start(buffer, batch):
    return buffer.lookup(batch.indices, batch.epoch)


def store(buffer, batch):
    buffer.store(batch.indices, batch.epoch, *batch.last_iterate)


def check(config):
    if config.threat_model.threat != "pixels":
        raise UsageError("--method=atta carries pixel perturbations: "
                         f"--threat={config.threat_model.threat} is not supported")


ADD_ON = AddOn("atta", "ATTA", AttaSettings, check=check, state=make_buffer,
               checkpoint_name="atta_perturbations", attack_start=attack_start,
               last_iterate=True, store=store)
