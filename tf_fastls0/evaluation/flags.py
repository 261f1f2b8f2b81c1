"""Every flag of ``python -m tf_fastls0.evaluate``; each is optional except ``--model``."""

import dataclasses
import os

from absl import flags, logging

from tf_fastls0.data import DataConfig
from tf_fastls0.data.flags import data_config_from_flags, define_data_flags
from tf_fastls0.evaluation.budgets import budget_name
from tf_fastls0.models.loading import locate, read_run_files
from tf_fastls0.evaluation.runner import ATTACK_NAMES
from tf_fastls0.utils.cli import UsageError

DATA_FLAGS = ("dataset", "data_dir", "tfds_data_dir", "tfds_download", "image_size",
              "max_train_examples", "max_eval_examples")


def define_flags():
    flags.DEFINE_string("model", None, "The model to evaluate: a SavedModel folder, a .keras file "
                        "or a tf_fastls0.train run folder (its saved_model/, else model.keras).")
    define_data_flags()
    flags.DEFINE_integer("eps", 20, "l0 budget k in PIXELS (positions; every channel of a pixel "
                         "may change).", lower_bound=1)
    flags.DEFINE_list("attacks", ["saa"], "Comma-separated, each run over all chosen images: saa "
                      "(the Sparse-AutoAttack cascade), spgd_unproj, spgd_proj, rs (one attack "
                      "alone, for the paper's per-attack columns).")
    flags.DEFINE_integer("iters", 10_000, "sPGD iterations per sPGD stage (paper: 10,000).",
                         lower_bound=1)
    flags.DEFINE_integer("rs_queries", 10_000, "Sparse-RS queries per image (paper: 10,000).",
                         lower_bound=1)
    flags.DEFINE_integer("patience", 3, "sPGD mask-restart patience (evaluation: 3).",
                         lower_bound=1)
    flags.DEFINE_integer("n_examples", 10_000, "Test images to attack (capped at the split): a "
                         "fixed subset chosen by --seed, the same for every model.", lower_bound=1)
    flags.DEFINE_integer("batch_size", 500, "Images per attack batch.", lower_bound=1)
    flags.DEFINE_integer("seed", 0, "Seed of the image subset and of every attack draw.",
                         lower_bound=0)
    flags.DEFINE_string("output_dir", None, "Where report.json and eval_state.npz go (default: "
                        "<run folder>/eval_<budget>_k<eps>[_shard<i>of<n>]).")
    flags.DEFINE_string("save_adversarial", None, "Also write the adversarial images to this "
                        ".npz file, and a PNG grid of a few examples beside it.")
    flags.DEFINE_integer("shard_index", 0, "Evaluate this shard of --num_shards (0-based).",
                         lower_bound=0)
    flags.DEFINE_integer("num_shards", 1, "Split the chosen images into this many shards "
                         "(contiguous whole batches); merge the reports with "
                         "python -m tf_fastls0.evaluation.merge.", lower_bound=1)
    flags.DEFINE_boolean("resume", False, "Continue from <output_dir>/eval_state.npz, skipping "
                         "finished batches.")
    flags.DEFINE_integer("max_batches", None, "Stop after this many batches in this session "
                         "(state saved; continue with --resume). For tests and time-limited jobs.",
                         lower_bound=1)
    flags.DEFINE_boolean("progress", True, "Show a progress bar on stderr.")
    flags.register_validator("attacks", lambda names: bool(names) and set(names) <= set(
        ATTACK_NAMES), f"--attacks takes a comma-separated list of {', '.join(ATTACK_NAMES)}")
    flags.register_multi_flags_validator(
        ["shard_index", "num_shards"], lambda v: v["shard_index"] < v["num_shards"],
        "--shard_index must be smaller than --num_shards")


def options_from_flags(values=flags.FLAGS):
    """``evaluate_model``'s arguments from the flags."""
    if not values.model:
        raise UsageError("--model is required: a SavedModel folder, a .keras file or a run folder")
    run_dir = locate(values.model).run_dir
    return {
        "model_path": values.model, "data": _data_config(values, run_dir),
        "output_dir": values.output_dir or default_output_dir(values, run_dir),
        "eps": values.eps, "attacks": values.attacks, "iters": values.iters,
        "rs_queries": values.rs_queries, "n_examples": values.n_examples,
        "batch_size": values.batch_size, "seed": values.seed, "patience": values.patience,
        "shard_index": values.shard_index, "num_shards": values.num_shards,
        "resume": values.resume, "save_adversarial": values.save_adversarial,
        "max_batches": values.max_batches, "progress": values.progress}


def _data_config(values, run_dir):
    """The data flags; if none is given and the model comes from a run folder, the run's own data
    settings. The training split is never used, so only one training image is loaded."""
    config = data_config_from_flags(values, seed=values.seed)
    run_config = read_run_files(run_dir).get("config") or {}
    if not any(values[name].present for name in DATA_FLAGS) and run_config.get("data"):
        known = {field.name for field in dataclasses.fields(DataConfig)}
        config = DataConfig(**{k: v for k, v in run_config["data"].items() if k in known})
        logging.warning("no data flags given: using the data settings of the run in %s (%s)",
                        run_dir, config.data_dir or config.dataset)
    return dataclasses.replace(config, max_train_examples=1)


def default_output_dir(values, run_dir):
    model_folder = run_dir or os.path.dirname(os.path.normpath(os.path.abspath(values.model)))
    name = f"eval_{budget_name(values.iters, values.rs_queries)}_k{values.eps}"
    if values.num_shards > 1:
        name += f"_shard{values.shard_index}of{values.num_shards}"
    return os.path.join(model_folder, name)
