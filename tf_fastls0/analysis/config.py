"""The settings of one ``python -m tf_fastls0.analyze`` call, resolved from its flags."""

import dataclasses
from typing import Optional, Tuple

# In the order they run: the cheap log reading first, then those that share cached attacks.
ANALYSES = ("gradient_norm", "hessian", "landscape", "locations", "interpolation",
            "gradient_distance")
ALL = "all"


@dataclasses.dataclass(frozen=True)
class AnalysisConfig:
    """Defaults are the paper's settings (SPEC section 8); budgets are per model.

    ``data_overrides`` are the data settings given on the command line; the rest of the data
    config comes from the first model's run folder (``config.json``), so by default the analyses
    see the data the model was trained on. ``loss="auto"`` picks each model's training objective.
    """
    models: Tuple[str, ...]
    labels: Optional[Tuple[str, ...]] = None
    analyses: Tuple[str, ...] = ANALYSES
    output_dir: Optional[str] = None
    data_overrides: Tuple[Tuple[str, object], ...] = ()
    n_examples: int = 1000
    batch_size: int = 128
    loss: str = "auto"
    tradeoff_alpha: Optional[float] = None
    trades_beta: Optional[float] = None
    train_eps: int = 20
    eval_eps: int = 20
    attack_variant: str = "random"
    top_k: int = 10
    hessian_max_iterations: int = 100
    hessian_tolerance: float = 1e-3
    grid_size: int = 21
    grid_range: float = 1.0
    directions: str = "hessian"
    reattack: bool = False
    iters: int = 10_000
    rs_queries: int = 10_000
    multistep_iters: int = 20
    seed: int = 0

    def to_dict(self):
        return dataclasses.asdict(self)


def expand_analyses(names):
    """``("all",)`` -> every analysis; otherwise the names in running order, without repeats."""
    wanted = set(ANALYSES) if ALL in names else set(names)
    return tuple(name for name in ANALYSES if name in wanted)
