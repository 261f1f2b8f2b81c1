"""Training methods: how a batch becomes the inputs of the loss, and the loss itself.

``AdversarialTrainer.train_step`` calls a method's ``prepare`` (outside the gradient tape: noise,
the attack, anything that needs no gradient to the weights), then ``loss`` (inside the tape), then
``after_update`` (state such as the SAT buffer). A method names the means and accuracies it logs.
Adding a method means adding a class here and a name in ``METHODS``; data and models stay as they are.
"""

import tensorflow as tf

from tf_fastls0.attacks import random_variant, sparse_pgd
from tf_fastls0.losses import distributed, objectives, per_example, soft_targets
from tf_fastls0.losses.sparse_noise import sparse_noise
from tf_fastls0.training.soft_label_buffer import SoftLabelBuffer


class LossTerms(dict):
    """``total``: this replica's share of the global-batch loss (what is differentiated);
    every other entry is a value to log, averaged over the epoch (``loss`` always present)."""

    @property
    def total(self):
        return self["total"]


class Standard:
    """Plain cross-entropy on clean images (no attack)."""

    logged_means = ()
    logged_accuracies = ()

    def __init__(self, config=None, train_labels=None, num_classes=0, steps_per_epoch=1):
        self.config = config

    def build(self, trainer):
        pass

    def checkpoint_items(self):
        return {}

    def prepare(self, trainer, images, labels, indices):
        return {"images": images, "labels": labels, "indices": indices}

    def loss(self, trainer, batch):
        logits = trainer.network(batch["images"], training=True)
        per_example_loss = per_example.cross_entropy(batch["labels"], logits)
        trainer.track_accuracy("accuracy", batch["labels"], logits)
        return LossTerms(total=distributed.global_batch_mean(per_example_loss),
                         loss=tf.reduce_mean(per_example_loss))

    def after_update(self, trainer, batch, terms):
        pass


class Adversarial:
    """sAT, Tradeoff and sTRADES on sPGD examples, with optional SAT soft labels and N-FGSM noise.

    The flags that shape it: ``objective`` (sparse_at | tradeoff | strades), ``trades_mode`` (T: the
    attack maximises CE; F: it maximises the KL term itself), ``soft_labels`` (none | sat),
    ``nfgsm_noise``, ``attack_steps``, ``attack_variant`` and ``train_eps``.
    """

    logged_means = ("clean_loss", "adversarial_loss", "sat_weight")
    logged_accuracies = ("adversarial_accuracy",)

    def __init__(self, config, train_labels, num_classes, steps_per_epoch):
        self.config = config
        self.objective = objective_of(config)
        self.use_soft_labels = uses_soft_labels(config)
        self.noise = uses_nfgsm_noise(config)
        self.steps_per_epoch = steps_per_epoch
        self.buffer = None
        self._train_labels, self._num_classes = train_labels, num_classes

    def build(self, trainer):
        if self.use_soft_labels:
            self.buffer = SoftLabelBuffer(self._train_labels, self._num_classes,
                                          self.config.sat_momentum, self.config.sat_start_epoch)

    def checkpoint_items(self):
        return {"soft_labels": self.buffer.rows} if self.buffer is not None else {}

    def prepare(self, trainer, images, labels, indices):
        step = tf.convert_to_tensor(trainer.optimizer.iterations)
        if self.noise:
            images = sparse_noise(images, self.config.train_eps, indices, self.config.seed, step)
        inference = lambda x: trainer.network(x, training=False)  # noqa: E731  (SPEC §2.9)
        clean_logits = inference(images)
        rows = self.buffer.lookup(indices) if self.buffer is not None else None
        attack = sparse_pgd(
            inference, images, labels, eps=self.config.train_eps, steps=self.config.attack_steps,
            projected=self._projected(step), patience=self.config.attack_patience,
            clean_logits=clean_logits, keys=indices, seed=self.config.seed, counter=step,
            **self._attack_loss(rows, clean_logits))
        return {"images": images, "adversarial": tf.stop_gradient(attack.adversarial),
                "labels": labels, "indices": indices, "rows": rows,
                "clean_logits": clean_logits, "epoch": step // self.steps_per_epoch}

    def loss(self, trainer, batch):
        adversarial_logits = trainer.network(batch["adversarial"], training=True)
        if self.objective is objectives.sparse_at_loss:
            clean_logits = batch["clean_logits"]  # sAT trains on adversarial inputs alone
        else:
            clean_logits = trainer.network(batch["images"], training=True)
        targets = batch["labels"]
        if self.buffer is not None:
            # SAT's rule: the rows move toward this step's clean prediction first, and the loss
            # uses the moved rows (Huang et al. 2020); they are stored after the update.
            batch["new_rows"] = self.buffer.moved(batch["rows"], clean_logits, batch["epoch"])
            targets = batch["new_rows"]
        terms = self.objective(clean_logits, adversarial_logits, targets,
                               **self._coefficients())
        trainer.track_accuracy("accuracy", batch["labels"], clean_logits)
        trainer.track_accuracy("adversarial_accuracy", batch["labels"], adversarial_logits)
        replicas = distributed.num_replicas_in_sync()
        weights = soft_targets.target_weights(targets) if self.buffer is not None else \
            tf.ones_like(batch["labels"], tf.float32)
        return LossTerms(total=terms.total, loss=terms.total * replicas,
                         clean_loss=terms.clean * replicas,
                         adversarial_loss=terms.adversarial * replicas,
                         sat_weight=tf.reduce_mean(weights))

    def after_update(self, trainer, batch, terms):
        if self.buffer is not None:
            self.buffer.store(batch["indices"], batch["new_rows"])

    def _projected(self, step):
        variant = self.config.attack_variant
        if variant != "random":
            return variant == "projected"
        return random_variant(self.config.seed, step)

    def _attack_loss(self, rows, clean_logits):
        if self.objective is objectives.trades_loss and self.config.trades_mode == "F":
            return {"loss": "kl"}
        if rows is not None and self.config.sat_attack_target == "soft":
            return {"loss": "soft_ce", "soft_targets": rows}
        return {"loss": "ce"}

    def _coefficients(self):
        if self.objective is objectives.tradeoff_loss:
            return {"alpha": self.config.tradeoff_alpha}
        if self.objective is objectives.trades_loss:
            return {"beta": self.config.trades_beta}
        return {}


METHOD_OBJECTIVES = {"sat": "sparse_at", "tradeoff": "tradeoff", "strades": "strades",
                     "fast_ls_l0": "strades"}


def objective_of(config):
    return objectives.OBJECTIVES[METHOD_OBJECTIVES[config.method]]


def uses_soft_labels(config):
    return config.method == "fast_ls_l0" or config.soft_labels == "sat"


def uses_nfgsm_noise(config):
    return config.method == "fast_ls_l0" or config.nfgsm_noise


METHODS = {"standard": Standard, "sat": Adversarial, "tradeoff": Adversarial,
           "strades": Adversarial, "fast_ls_l0": Adversarial}
