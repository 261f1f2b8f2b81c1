"""The settings of one ``python -m tf_fastls0.analyze`` call: each one's name, default, help
text and checks, in one place (the flags are generated from ``AnalysisConfig``)."""

import dataclasses
from typing import Optional, Tuple

from tf_fastls0.analysis.adversarial_inputs import VARIANTS
from tf_fastls0.attacks import paper_budget
from tf_fastls0.data.config import DataConfig
from tf_fastls0.losses.objectives import OBJECTIVES
from tf_fastls0.training.config import TRAIN_EPS_PER_EVAL_EPS
from tf_fastls0.training.methods import METHOD_ALIASES
from tf_fastls0.utils import settings
from tf_fastls0.utils.cli import UsageError
from tf_fastls0.utils.old_names import keeps_old_names
from tf_fastls0.utils.settings import setting

# In the order they run: the cheap log reading first, then those that share cached attacks.
ANALYSES = ("gradient_norm", "hessian", "landscape", "locations", "interpolation",
            "gradient_distance")
ALL = "all"


@keeps_old_names
@dataclasses.dataclass(frozen=True)
class AnalysisConfig:
    """Defaults are the paper's settings (SPEC section 8); budgets are per model.

    ``data_overrides`` are the data settings given on the command line; the rest of the data
    config comes from the first model's run folder (``config.json``), so by default the analyses
    see the data the model was trained on. ``loss="auto"`` picks each model's training objective;
    its coefficients, budgets, attack patience and variant and N-FGSM noise are each model's run's
    (``AnalysisContext.run_settings``) unless a flag here sets them.
    """

    model: Tuple[str, ...] = setting(
        help="Model(s) to analyse, comma-separated: run folders of tf_fastls0.train (model.keras "
        "is preferred to saved_model/), .keras files, SavedModel folders or a run's checkpoints "
        "(<run>/checkpoints/ckpt-<step>). Several models share "
        "one plot where the analysis has one.", changes_results=False)
    labels: Optional[Tuple[str, ...]] = setting(
        None, "Names of the models in plots and files, comma-separated, one per --model "
        "(default: the run folder's name).", changes_results=False)
    analysis: Tuple[str, ...] = setting(
        (ALL,), f"What to run, comma-separated: {', '.join(ANALYSES)} or {ALL}.",
        choices=ANALYSES + (ALL,))
    output_dir: Optional[str] = setting(
        None, "Where the JSON, PNG, .npz and TensorBoard files go (default: <first model's run "
        "folder>/analysis).", changes_results=False)
    data_overrides: Tuple[Tuple[str, object], ...] = setting((), overrides_of=DataConfig)
    n_examples: int = setting(
        1000, "Examples per analysis: training images for hessian, landscape and "
        "gradient_distance, test images for locations and interpolation (a fixed random "
        "subset).", lower=1)
    batch_size: int = setting(128, "Images per batch in every forward pass and attack.", lower=1)
    loss: str = setting(
        "auto", "Loss of the Hessian and landscape: sparse_at (CE on the adversarial examples), "
        "tradeoff (paper Eq. 8), strades (CE + beta KL), clean (CE on clean images); auto = each "
        "model's training objective from its run's config.json (sparse_at if none).",
        choices=("auto",) + tuple(OBJECTIVES), aliases=METHOD_ALIASES)
    tradeoff_alpha: Optional[float] = setting(
        None, "Tradeoff weight (default: the run's, else the trainer's default; every other "
        "coefficient of the objective is the run's).", lower=0.0, upper=1.0)
    trades_beta: Optional[float] = setting(
        None, "sTRADES KL weight (default: the run's, else the trainer's default).",
        lower=0.0, upper=1e4)
    train_eps: Optional[int] = setting(
        None, "l0 budget (pixels) of the 1-step (and multi-step) sPGD that makes the fixed "
        "adversarial examples; default the run's --train_eps (a model without a run: "
        f"{TRAIN_EPS_PER_EVAL_EPS}x --eval_eps).", lower=0)
    eval_eps: Optional[int] = setting(
        None, "l0 budget (pixels) of Sparse-AutoAttack (locations, interpolation); default the "
        "run's --eval_eps (a model without a run: the trainer's default, 20).", lower=0)
    attack_variant: Optional[str] = setting(
        None, "sPGD gradient variant of the training attack (random draws one per batch with "
        "probability 1/2); default the run's --attack_variant.", choices=VARIANTS)
    top_k: int = setting(10, "Hessian eigenvalues to compute (largest |value| first).", lower=1)
    hessian_max_iterations: int = setting(100, "Power-iteration cap per eigenvalue.", lower=1)
    hessian_tolerance: float = setting(
        1e-3, "Power iteration stops when the eigenvalue estimate changes by at most this "
        "fraction.", lower=0.0, upper=1.0)
    grid_size: int = setting(21, "Landscape grid points per axis (odd: the centre is the trained "
                             "weights).", lower=3)
    grid_range: float = setting(1.0, "Landscape coefficients run over [-range, range].",
                                lower=0.0, upper=1e3)
    directions: str = setting(
        "hessian", "Landscape directions: the top two Hessian eigenvectors, or random "
        "filter-normalised ones (Li et al.).", choices=("hessian", "random"))
    reattack: bool = setting(False, "Landscape: recompute the 1-step adversarial examples at "
                             "every grid point (else they are held fixed).")
    iterations: int = setting(
        paper_budget.ITERATIONS, "Sparse-AutoAttack sPGD iterations per stage (paper: 10,000; "
        "use a few hundred for a quick look).", lower=1, old_names=("iters",))
    queries: int = setting(paper_budget.QUERIES, "Sparse-AutoAttack Sparse-RS queries (paper: "
                           "10,000).", lower=1, old_names=("rs_queries",))
    multistep_iterations: int = setting(
        20, "sPGD iterations of the multi-step attack that gradient_distance compares 1-step "
        "sPGD with.", lower=1, old_names=("multistep_iters",))
    seed: int = setting(0, "Seed of the example subsets, attacks and random directions.",
                        lower=0, upper=settings.MAX_SEED)

    def __post_init__(self):
        settings.normalise(self)
        object.__setattr__(self, "analysis", expand_analyses(self.analysis))
        if self.grid_size % 2 == 0:
            raise UsageError(f"--grid_size={self.grid_size} must be odd, so that the grid's "
                             "centre is the trained model")
        if self.labels is not None and len(self.labels) != len(self.model):
            raise UsageError("--labels must name each --model once")
        if self.labels is not None and len(set(self.labels)) != len(self.labels):
            raise UsageError("--labels must be different from each other")

    def to_dict(self):
        return settings.to_dict(self)


def expand_analyses(names):
    """``("all",)`` -> every analysis; otherwise the names in running order, without repeats."""
    wanted = set(ANALYSES) if ALL in names else set(names)
    return tuple(name for name in ANALYSES if name in wanted)
