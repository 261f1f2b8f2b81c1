"""Every flag of ``python -m tf_fastls0.analyze``; each is optional except ``--model``."""

from absl import flags

from tf_fastls0.analysis.adversarial_inputs import VARIANTS
from tf_fastls0.analysis.config import ALL, ANALYSES, AnalysisConfig, expand_analyses
from tf_fastls0.analysis.training_objective import NAMES as OBJECTIVE_NAMES
from tf_fastls0.data.flags import define_data_flags

DATA_FLAGS = ("dataset", "data_dir", "tfds_data_dir", "tfds_download", "image_size",
              "max_train_examples", "max_eval_examples")


def define_flags():
    flags.DEFINE_list("model", None, "Model(s) to analyse, comma-separated: run folders of "
                      "tf_fastls0.train (model.keras is preferred to saved_model/), .keras files or "
                      "SavedModel folders. Several models share one plot where the analysis has one.")
    flags.DEFINE_list("labels", None, "Names of the models in plots and files, comma-separated, one "
                      "per --model (default: the run folder's name).")
    flags.DEFINE_list("analysis", [ALL], f"What to run, comma-separated: {', '.join(ANALYSES)} or "
                      f"{ALL}.")
    flags.DEFINE_string("output_dir", None, "Where the JSON, PNG, .npz and TensorBoard files go "
                        "(default: <first model's run folder>/analysis).")
    define_data_flags()
    flags.DEFINE_integer("n_examples", 1000, "Examples per analysis: training images for hessian, "
                         "landscape and gradient_distance, test images for locations and "
                         "interpolation (a fixed random subset).", lower_bound=1)
    flags.DEFINE_integer("batch_size", 128, "Images per batch in every forward pass and attack.",
                         lower_bound=1)
    flags.DEFINE_enum("loss", "auto", ("auto",) + OBJECTIVE_NAMES,
                      "Loss of the Hessian and landscape: sat (CE on the adversarial examples), "
                      "tradeoff (paper Eq. 8), strades (CE + beta KL), clean (CE on clean images); "
                      "auto = each model's training method from its run's config.json (sat if none).")
    flags.DEFINE_float("tradeoff_alpha", None, "Tradeoff weight (default: the run's, else 0.75).",
                       lower_bound=0.0, upper_bound=1.0)
    flags.DEFINE_float("trades_beta", None, "sTRADES KL weight (default: the run's, else 6).",
                       lower_bound=0.0)
    flags.DEFINE_integer("train_eps", 20, "l0 budget (pixels) of the 1-step (and multi-step) sPGD "
                         "that makes the fixed adversarial examples.", lower_bound=0)
    flags.DEFINE_integer("eval_eps", 20, "l0 budget (pixels) of Sparse-AutoAttack (locations, "
                         "interpolation).", lower_bound=0)
    flags.DEFINE_enum("attack_variant", "random", VARIANTS, "sPGD gradient variant of the training "
                      "attack: random draws one per batch with probability 1/2, as training does.")
    flags.DEFINE_integer("top_k", 10, "Hessian eigenvalues to compute (largest |value| first).",
                         lower_bound=1)
    flags.DEFINE_integer("hessian_max_iterations", 100, "Power-iteration cap per eigenvalue.",
                         lower_bound=1)
    flags.DEFINE_float("hessian_tolerance", 1e-3, "Power iteration stops when the eigenvalue "
                       "estimate changes by at most this fraction.", lower_bound=0.0)
    flags.DEFINE_integer("grid_size", 21, "Landscape grid points per axis (odd: the centre is the "
                         "trained weights).", lower_bound=3)
    flags.DEFINE_float("grid_range", 1.0, "Landscape coefficients run over [-range, range].",
                       lower_bound=0.0)
    flags.DEFINE_enum("directions", "hessian", ["hessian", "random"], "Landscape directions: the "
                      "top two Hessian eigenvectors, or random filter-normalised ones (Li et al.).")
    flags.DEFINE_boolean("reattack", False, "Landscape: recompute the 1-step adversarial examples "
                         "at every grid point (else they are held fixed).")
    flags.DEFINE_integer("iters", 10_000, "Sparse-AutoAttack sPGD iterations per stage (paper: "
                         "10,000; use a few hundred for a quick look).", lower_bound=1)
    flags.DEFINE_integer("rs_queries", 10_000, "Sparse-AutoAttack Sparse-RS queries (paper: 10,000).",
                         lower_bound=1)
    flags.DEFINE_integer("multistep_iters", 20, "sPGD iterations of the multi-step attack that "
                         "gradient_distance compares 1-step sPGD with.", lower_bound=1)
    flags.DEFINE_integer("seed", 0, "Seed of the example subsets, attacks and random directions.",
                         lower_bound=0)
    flags.mark_flag_as_required("model")
    _register_validators()


def _register_validators():
    flags.register_validator("analysis", lambda names: all(n in ANALYSES + (ALL,) for n in names),
                             f"--analysis takes names of {', '.join(ANALYSES)} or {ALL}")
    flags.register_validator("grid_size", lambda size: size % 2 == 1,
                             "--grid_size must be odd, so that the grid's centre is the trained model")
    flags.register_multi_flags_validator(
        ["model", "labels"], lambda v: v["labels"] is None or len(v["labels"]) == len(v["model"] or []),
        "--labels must name each --model once")
    flags.register_validator("labels", lambda names: names is None or len(set(names)) == len(names),
                             "--labels must be different from each other")


def config_from_flags(values=flags.FLAGS):
    overrides = tuple((name, values[name].value) for name in DATA_FLAGS if values[name].present)
    return AnalysisConfig(
        models=tuple(values.model), labels=tuple(values.labels) if values.labels else None,
        analyses=expand_analyses(values.analysis), output_dir=values.output_dir,
        data_overrides=overrides,
        n_examples=values.n_examples, batch_size=values.batch_size, loss=values.loss,
        tradeoff_alpha=values.tradeoff_alpha, trades_beta=values.trades_beta,
        train_eps=values.train_eps, eval_eps=values.eval_eps, attack_variant=values.attack_variant,
        top_k=values.top_k, hessian_max_iterations=values.hessian_max_iterations,
        hessian_tolerance=values.hessian_tolerance, grid_size=values.grid_size,
        grid_range=values.grid_range, directions=values.directions, reattack=values.reattack,
        iters=values.iters, rs_queries=values.rs_queries, multistep_iters=values.multistep_iters,
        seed=values.seed)
