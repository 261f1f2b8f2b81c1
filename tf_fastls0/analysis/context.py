"""What the analyses of one call share: the models, the examples, and every attack's output,
computed once per model and reused (the Hessian and the landscape hold the same 1-step
adversarial examples fixed; locations and interpolation share one Sparse-AutoAttack run)."""

import dataclasses
from typing import Dict, List, NamedTuple

import numpy as np
from tqdm import tqdm

from tf_fastls0 import data as data_lib
from tf_fastls0.analysis import adversarial_inputs
from tf_fastls0.analysis import training_objective
from tf_fastls0.data.config import with_overrides
from tf_fastls0.data.streamed_split import READ_ERRORS, unreadable_example
from tf_fastls0.models.loading import LoadedModel, load_model, read_run_files
from tf_fastls0.attacks import STAGES
from tf_fastls0.attacks.budget import check_eps_fits
from tf_fastls0.training.config import TrainConfig
from tf_fastls0.utils import settings
from tf_fastls0.utils.cli import UsageError


class AnalysisError(UsageError):
    """Settings that do not fit the models or data; reported in one line, exit status 2."""


class Examples(NamedTuple):
    """float32 images ``[N, H, W, C]`` in [0, 1] and int32 labels ``[N]``."""
    images: np.ndarray
    labels: np.ndarray


class Objective(NamedTuple):
    """The loss a model's Hessian and landscape are taken of, with its coefficients."""
    name: str
    alpha: float
    beta: float


def progress_bar(description, total=None, unit="it"):
    return tqdm(total=total, desc=description, unit=unit, dynamic_ncols=True)


def data_config(config, run_config):
    """The run's data settings with the command line's overrides, capped at ``n_examples``.

    Capping reuses ``ImageSet.subset``'s seeded permutation, whose first n indices are a prefix of
    the run's own subset: the analysed training images are images the model was trained on.
    """
    resolved = with_overrides((run_config or {}).get("data"), config.data_overrides)

    def capped(limit):
        return config.n_examples if limit is None else min(limit, config.n_examples)

    return dataclasses.replace(resolved, max_train_examples=capped(resolved.max_train_examples),
                               max_eval_examples=capped(resolved.max_eval_examples))


def _examples(image_set):
    return Examples(image_set.float_images(), image_set.labels.astype(np.int32))


@dataclasses.dataclass
class AnalysisContext:
    config: object  # AnalysisConfig
    models: List[LoadedModel]
    train: Examples
    test: Examples
    data_name: str
    cache: Dict = dataclasses.field(default_factory=dict)

    @classmethod
    def create(cls, config, sources, labels):
        data = data_config(config, read_run_files(sources[0].run_dir).get("config"))
        try:
            splits = data_lib.load_data(data)
        except data_lib.DataError as error:
            raise AnalysisError(str(error)) from error
        models = [load_model(source, label=label) for source, label in zip(sources, labels)]
        for model in models:
            _check_fits(model, splits.image_shape, splits.name)
            _check_classes(model, splits)
            _check_top_k(config, model)
        _check_budgets(config, splits.image_shape)
        try:
            train, test = _examples(splits.train), _examples(splits.test)
        except READ_ERRORS as error:  # a streamed file or record that no longer reads
            found = unreadable_example(splits, error)
            if found is None:
                raise
            raise AnalysisError(found) from None
        return cls(config, models, train, test, splits.name)

    def objective(self, model):
        """``--loss``, or with ``auto`` the model's training objective; coefficients likewise."""
        run = model.run_config or {}
        name = self.config.loss
        if name == "auto":
            name = training_objective.objective_for_method(run.get("method", "sparse_at"))
        alpha = _first_set(self.config.tradeoff_alpha, run.get("tradeoff_alpha"),
                           settings.default_of(TrainConfig, "tradeoff_alpha"))
        beta = _first_set(self.config.trades_beta, run.get("trades_beta"),
                          settings.default_of(TrainConfig, "trades_beta"))
        return Objective(name, float(alpha), float(beta))

    def adversarial(self, model, split, steps=1):
        """sPGD adversarial examples of ``split`` ("train" or "test") at ``--train_eps`` (cached)."""
        key = ("spgd", model.label, split, steps)
        if key not in self.cache:
            examples = getattr(self, split)
            config = self.config
            with progress_bar(f"{model.label}: {steps}-step sPGD on {split} images",
                              len(examples.labels), "img") as bar:
                self.cache[key] = adversarial_inputs.spgd_adversarial(
                    model.model_fn, examples.images, examples.labels, eps=config.train_eps,
                    steps=steps, variant=config.attack_variant, batch_size=config.batch_size,
                    seed=config.seed, progress=bar.update)
        return self.cache[key]

    def saa(self, model):
        """Sparse-AutoAttack on the test images at ``--eval_eps`` with ``--iters`` and
        ``--rs_queries`` (cached)."""
        key = ("saa", model.label)
        if key not in self.cache:
            config, examples = self.config, self.test
            with progress_bar(f"{model.label}: Sparse-AutoAttack", len(examples.labels),
                              "img") as bar:
                def report(stage):
                    bar.set_postfix(stage=stage["stage"], broken=stage["broken"])
                    if stage["stage"] == STAGES[-1]:  # a batch is done after its last stage
                        bar.update(stage["images_done"] - bar.n)

                self.cache[key] = adversarial_inputs.saa(
                    model.model_fn, examples.images, examples.labels, eps=config.eval_eps,
                    iterations=config.iters, queries=config.rs_queries,
                    batch_size=config.batch_size, seed=config.seed, progress=report)
        return self.cache[key]

    def objective_parts(self, model, reattack=False):
        """The model's objective on the training images as loss parts; its 1-step adversarial
        examples are held fixed, or with ``reattack`` made afresh inside every evaluation."""
        objective = self.objective(model)
        config = self.config
        fixed, attack = None, None
        if training_objective.needs_adversarial(objective.name):
            if reattack:
                attack = _reattack(config)
            else:
                fixed = self.adversarial(model, "train")
        return training_objective.objective_parts(
            objective.name, self.train.images, self.train.labels, fixed, attack=attack,
            batch_size=config.batch_size, alpha=objective.alpha, beta=objective.beta)


def _reattack(config):
    """1-step sPGD run inside a loss part, with the batch's variant fixed as in ``adversarial``."""

    def attack(model_fn, images, labels, keys, batch_index):
        projected = adversarial_inputs.batch_projected(batch_index, config.attack_variant,
                                                       config.seed)
        return adversarial_inputs.spgd_batch(model_fn, images, labels, keys, eps=config.train_eps,
                                             steps=1, projected=projected, seed=config.seed)

    return attack


def _first_set(*values):
    return next(value for value in values if value is not None)


def _check_fits(model, image_shape, data_name):
    expected = getattr(model.network, "input_shape", None)
    if expected is not None and tuple(expected[1:]) != tuple(image_shape):
        raise AnalysisError(f"model {model.label!r} takes images of shape {tuple(expected[1:])} but "
                            f"{data_name} has {tuple(image_shape)}; choose its data with --dataset "
                            "or --data_dir")


def _check_classes(model, splits):
    classes = model.num_classes(splits.image_shape)
    if classes != splits.num_classes:
        raise AnalysisError(f"model {model.label!r} gives {classes} class scores but {splits.name} "
                            f"has {splits.num_classes} classes; choose its data with --dataset or "
                            "--data_dir")


def _check_top_k(config, model):
    """The Hessian has as many eigenvalues as the model has trainable parameters."""
    if "hessian" not in config.analysis:
        return
    count = sum(int(np.prod(variable.shape)) for variable in model.network.trainable_variables)
    if config.top_k > count:
        raise AnalysisError(f"--top_k={config.top_k}: model {model.label!r} has only {count} "
                            "trainable parameters, so its Hessian has no more eigenvalues than "
                            "that")


def _check_budgets(config, image_shape):
    check_eps_fits(image_shape, train_eps=config.train_eps, eval_eps=config.eval_eps)
