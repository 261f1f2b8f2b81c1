"""What the analyses of one call share: the models, the examples, and every attack's output,
computed once per model and reused (the Hessian and the landscape hold the same 1-step
adversarial examples fixed; locations and interpolation share one Sparse-AutoAttack run).

Each model is analysed with its own run's settings (``run_settings``: the run folder's
``config.json`` read back as a ``TrainConfig``, the trainer's defaults for a model without one),
the analysis flags that are set taking their place: the objective's every coefficient
(``--mart_beta=3`` is analysed with beta 3), the training and evaluation budgets, the training
attack's patience and variant, and N-FGSM noise. The training objective (Hessian, landscape) is
taken as the run trained on it: at the noisy images (``losses/sparse_noise.py``, drawn with the
analysis seed) when the run added noise, on the attack's last iterate for the objectives whose
record says ``last_iterate``. Locations, interpolation and the gradient distance study
the attack itself, on the images as they are.
"""

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
from tf_fastls0.losses import objectives
from tf_fastls0.losses.sparse_noise import sparse_noise
from tf_fastls0.training.config import TRAIN_EPS_PER_EVAL_EPS, TrainConfig
from tf_fastls0.utils.cli import UsageError


class AnalysisError(UsageError):
    """Settings that do not fit the models or data; reported in one line, exit status 2."""


class Examples(NamedTuple):
    """float32 images ``[N, H, W, C]`` in [0, 1] and int32 labels ``[N]``."""
    images: np.ndarray
    labels: np.ndarray


class Objective(NamedTuple):
    """The loss a model's Hessian and landscape are taken of, with its coefficients by parameter
    name (its record's ``coefficients``), each the run's unless a flag sets it."""
    name: str
    coefficients: dict

# The analysis flags that replace the run's setting of the same name when they are set.
RUN_OVERRIDES = ("tradeoff_alpha", "trades_beta", "train_eps", "eval_eps", "attack_variant")


def run_settings(config, run_config):
    """The run's ``TrainConfig`` (its ``config.json`` ``run_config``; the trainer's defaults
    without one) with the analysis flags of ``RUN_OVERRIDES`` that are set in their place."""
    overrides = {name: getattr(config, name) for name in RUN_OVERRIDES
                 if getattr(config, name) is not None}
    if not run_config and config.train_eps is None and config.eval_eps is not None:
        overrides["train_eps"] = TRAIN_EPS_PER_EVAL_EPS * config.eval_eps  # as training derives it
    try:
        run = TrainConfig.from_dict(run_config) if run_config else TrainConfig()
        return dataclasses.replace(run, **overrides)
    except (UsageError, TypeError, ValueError) as error:
        raise AnalysisError(f"the run's settings with this analysis' flags: {error}") from error


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
            _check_budgets(run_settings(config, model.run_config), splits.image_shape)
            _check_top_k(config, model)
        try:
            train, test = _examples(splits.train), _examples(splits.test)
        except READ_ERRORS as error:  # a streamed file or record that no longer reads
            found = unreadable_example(splits, error)
            if found is None:
                raise
            raise AnalysisError(found) from None
        return cls(config, models, train, test, splits.name)

    def run_settings(self, model):
        """The model's run settings with this call's flags in their place (``run_settings``)."""
        key = ("run", model.label)
        if key not in self.cache:
            self.cache[key] = run_settings(self.config, model.run_config)
        return self.cache[key]

    def objective(self, model):
        """``--loss``, or with ``auto`` the model's training objective, with its coefficients."""
        name = self.config.loss
        if name == "auto":
            name = training_objective.objective_for_method(
                (model.run_config or {}).get("method", "sparse_at"))
        run = self.run_settings(model)
        record = objectives.OBJECTIVES[name]
        return Objective(name, record.coefficients(
            getattr(run, name) if record.settings is not None else None))

    def training_images(self, model):
        """The training images as the run's attack started from them: with N-FGSM noise
        (0..2*train_eps pixels, keyed by the example's position) when the run added it."""
        run = self.run_settings(model)
        images = self.train.images
        if not run.nfgsm:
            return images
        keys = np.arange(len(images), dtype=np.int64)
        return sparse_noise(images, run.train_eps, keys, self.config.seed).numpy()

    def adversarial(self, model, split, iterations=1, as_trained=False):
        """sPGD adversarial examples of ``split`` ("train" or "test") at the run's train_eps,
        patience and variant (cached); ``as_trained``: of the training images as the run's
        objective saw them (``training_images``; the last iterate where it trains on that)."""
        key = ("spgd", model.label, split, iterations, as_trained)
        if key not in self.cache:
            examples = getattr(self, split)
            images = self.training_images(model) if as_trained else examples.images
            config, run = self.config, self.run_settings(model)
            last_iterate = (as_trained
                            and objectives.OBJECTIVES[self.objective(model).name].last_iterate)
            with progress_bar(f"{model.label}: {iterations}-step sPGD on {split} images",
                              len(examples.labels), "img") as bar:
                self.cache[key] = adversarial_inputs.spgd_adversarial(
                    model.model_fn, images, examples.labels, eps=run.train_eps,
                    iterations=iterations, variant=run.attack_variant, batch_size=config.batch_size,
                    seed=config.seed, patience=run.attack_patience, last_iterate=last_iterate,
                    progress=bar.update)
        return self.cache[key]

    def saa(self, model):
        """Sparse-AutoAttack on the test images at the run's eval_eps with ``--iterations`` and
        ``--queries`` (cached)."""
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
                    model.model_fn, examples.images, examples.labels,
                    eps=self.run_settings(model).eval_eps,
                    iterations=config.iterations, queries=config.queries,
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
                attack = _reattack(config.seed, self.run_settings(model),
                                   objectives.OBJECTIVES[objective.name].last_iterate)
            else:
                fixed = self.adversarial(model, "train", as_trained=True)
        return training_objective.objective_parts(
            objective.name, self.training_images(model), self.train.labels, fixed, attack=attack,
            batch_size=config.batch_size, coefficients=objective.coefficients)


def _reattack(seed, run, last_iterate):
    """1-step sPGD run inside a loss part, with the batch's variant fixed as in ``adversarial``."""

    def attack(model_fn, images, labels, keys, batch_index):
        projected = adversarial_inputs.batch_projected(batch_index, run.attack_variant, seed)
        return adversarial_inputs.spgd_batch(model_fn, images, labels, keys, eps=run.train_eps,
                                             iterations=1, projected=projected, seed=seed,
                                             patience=run.attack_patience,
                                             last_iterate=last_iterate)

    return attack


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


def _check_budgets(run, image_shape):
    check_eps_fits(image_shape, train_eps=run.train_eps, eval_eps=run.eval_eps)


def _check_top_k(config, model):
    """The Hessian has as many eigenvalues as the model has trainable parameters."""
    if "hessian" not in config.analysis:
        return
    count = sum(int(np.prod(variable.shape)) for variable in model.network.trainable_variables)
    if config.top_k > count:
        raise AnalysisError(f"--top_k={config.top_k}: model {model.label!r} has only {count} "
                            "trainable parameters, so its Hessian has no more eigenvalues than "
                            "that")
