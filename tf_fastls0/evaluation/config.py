"""An evaluation's settings: each one's name, default, help text and checks, in one place.

The flags of ``python -m tf_fastls0.evaluate`` are generated from ``EvalConfig``;
``evaluate_model(EvalConfig(...))`` takes the same settings in code. ``iters`` and
``rs_queries``, the old names of ``iterations`` and ``queries``, still work as flags, keywords
and report keys, with a ``DeprecationWarning`` (``utils.old_names``).
"""

import dataclasses
import os
from typing import Optional, Tuple

from absl import logging

from tf_fastls0.attacks import ATTACK_NAMES, paper_budget, threats
from tf_fastls0.attacks.threat_config import ThreatConfig
from tf_fastls0.data.config import MODEL_INPUT_SETTINGS, DataConfig, with_overrides
from tf_fastls0.evaluation.budgets import PAPER, budget_name
from tf_fastls0.models.loading import read_run_files
from tf_fastls0.models.precision import PRECISION_HELP, PRECISIONS
from tf_fastls0.utils import settings
from tf_fastls0.utils.old_names import keeps_old_names
from tf_fastls0.utils.cli import UsageError
from tf_fastls0.utils.settings import setting



@keeps_old_names
@dataclasses.dataclass(frozen=True)
class EvalConfig:
    model: str = setting(
        help="The model to evaluate: a SavedModel folder, a .keras file, a tf_fastls0.train run "
        "folder (its saved_model/, else model.keras) or one of a run's checkpoints "
        "(<run>/checkpoints/ckpt-<step>: an unfinished run, or an earlier epoch).",
        changes_results=False)
    # The data to attack is resolved from these (``data_config_for``) and fingerprinted as
    # resolved, so a state made from the command line resumes from code and back.
    data: Optional[DataConfig] = setting(
        None, "In code: the data to attack (None: the run folder's data settings).", flag=False,
        changes_results=False)
    data_overrides: Tuple[Tuple[str, object], ...] = setting(
        (), overrides_of=DataConfig, changes_results=False)
    eps: int = setting(20, "l0 budget k in PIXELS (positions; every channel of a pixel may "
                       "change), or in the structures of --threat (patches, lines, groups).",
                       lower=1)
    attacks: Tuple[str, ...] = setting(
        ("saa",), "Comma-separated, each run over all chosen images: saa (the Sparse-AutoAttack "
        "cascade) or one attack alone, for the paper's per-attack columns: "
        f"{', '.join(name for name in ATTACK_NAMES if name != 'saa')} (sigma_zero also gives "
        "robust accuracy at every k).", choices=ATTACK_NAMES)
    iterations: int = setting(
        paper_budget.ITERATIONS, "Iterations of each white-box attack: per sPGD stage, SAIF's "
        "and sigma-zero's steps (paper: 10,000).", lower=1, old_names=("iters",))
    queries: int = setting(
        paper_budget.QUERIES, "Queries per image of each black-box attack: Sparse-RS's, and "
        "CornerSearch's candidates per sparsity and class, capped at the paper's 1,000 "
        "(paper: 10,000).", lower=1, old_names=("rs_queries",))
    patience: int = setting(paper_budget.PATIENCE, "sPGD mask-restart patience (evaluation: "
                            f"{paper_budget.PATIENCE}).", lower=1)
    n_examples: int = setting(
        PAPER["n_examples"], "Test images to attack (capped at the split): a fixed subset "
        "chosen by --seed, the same for every model.", lower=1)
    batch_size: int = setting(500, "Images per attack batch.", lower=1)
    mixed_precision: str = setting("off", PRECISION_HELP + " Needs a Keras model (a run folder, "
                                   ".keras file or checkpoint), not a bare SavedModel. Off "
                                   "unless given, whatever the machine (training's auto is not "
                                   "offered): a robustness figure must not depend on it.",
                                   choices=PRECISIONS)
    seed: int = setting(0, "Seed of the image subset and of every attack draw.", lower=0,
                        upper=settings.MAX_SEED)
    output_dir: Optional[str] = setting(
        None, "Where report.json and eval_state.npz go (default: <run folder>/eval_<budget>_k<eps>"
        "[_shard<i>of<n>]).", changes_results=False)
    save_adversarial: Optional[str] = setting(
        None, "Also write the adversarial images to this .npz file, and a PNG grid of a few "
        "examples beside it.", changes_results=False)
    shard_index: int = setting(0, "Evaluate this shard of --num_shards (0-based).", lower=0)
    num_shards: int = setting(
        1, "Split the chosen images into this many shards (contiguous whole batches); merge the "
        "reports with python -m tf_fastls0.evaluation.merge.", lower=1)
    resume: bool = setting(False, "Continue from <output_dir>/eval_state.npz, skipping finished "
                           "batches.", changes_results=False)
    max_batches: Optional[int] = setting(
        None, "Stop after this many batches in this session (state saved; continue with "
        "--resume). For tests and time-limited jobs.", lower=1, changes_results=False)
    progress: bool = setting(True, "Show a progress bar on stderr.", changes_results=False)
    threat_model: ThreatConfig = setting(
        ThreatConfig(), "The threat model's settings (--threat and the flags it reads).",
        flat_keys=True)

    def __post_init__(self):
        attacks = self.attacks.split(",") if isinstance(self.attacks, str) else self.attacks
        object.__setattr__(self, "attacks", tuple(dict.fromkeys(
            name.strip() for name in attacks if name.strip())))
        settings.normalise(self)
        if not self.attacks:
            raise UsageError(f"--attacks names no attack: choose from {', '.join(ATTACK_NAMES)}")
        threats.check_attacks(self.threat_model.threat, self.attacks)
        if self.shard_index >= self.num_shards:
            raise UsageError(f"--shard_index={self.shard_index} must be smaller than "
                             f"--num_shards={self.num_shards}")

    def to_dict(self):
        return settings.to_dict(self)


def default_output_dir(config, run_dir):
    """``<run folder>/eval_<budget>_k<eps>[_shard<i>of<n>]`` (beside a bare model file)."""
    model_folder = run_dir or os.path.dirname(os.path.normpath(os.path.abspath(config.model)))
    name = (f"eval_{budget_name(config.iterations, config.queries)}_{config.threat_model.tag()}"
            f"k{config.eps}")
    if config.num_shards > 1:
        name += f"_shard{config.shard_index}of{config.num_shards}"
    return os.path.join(model_folder, name)


def data_config_for(config, run_dir):
    """The data to attack: the data flags given, with the model's input settings (preprocessing,
    image size) from its run folder unless given; else ``config.data``; else the run's data
    settings; else the defaults. The training split is never used, so only one training image is
    loaded."""
    run_data = (read_run_files(run_dir).get("config") or {}).get("data") or {}
    if config.data_overrides:
        model_inputs = {name: run_data[name] for name in MODEL_INPUT_SETTINGS if name in run_data}
        data = with_overrides(model_inputs, config.data_overrides)
    elif config.data is not None:
        data = config.data
    else:
        data = with_overrides(run_data, ())
        if run_data:
            logging.warning("no data flags given: using the data settings of the run in %s (%s)",
                            run_dir, data.data_dir or data.dataset)
    return dataclasses.replace(data, seed=config.seed, max_train_examples=1)
