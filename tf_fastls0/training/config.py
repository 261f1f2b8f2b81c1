"""A training run's settings, resolved from flags and written beside its outputs."""

import dataclasses
from typing import Optional

from tf_fastls0.data import DataConfig


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    data: DataConfig = DataConfig()
    output_dir: str = "runs/default"
    model: str = "preact_resnet18"
    width: float = 1.0
    sync_batchnorm: bool = False
    method: str = "standard"
    trades_mode: str = "T"
    trades_beta: float = 6.0
    tradeoff_alpha: float = 0.75
    soft_labels: str = "none"
    sat_start_epoch: int = 50
    sat_momentum: float = 0.9
    sat_attack_target: str = "soft"
    nfgsm_noise: bool = False
    attack_steps: int = 1
    attack_variant: str = "random"
    attack_patience: int = 10
    train_eps: int = 20
    eval_eps: int = 20
    val_robust_examples: int = 200
    val_attack_steps: int = 20
    co_robust_drop: float = 0.5
    co_train_margin: float = 0.1
    stop_on_co: bool = False
    final_eval: str = "none"
    epochs: int = 100
    batch_size: int = 128
    learning_rate: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    augment: bool = True
    seed: int = 0
    strategy: str = "default"
    log_every_steps: int = 10
    jit_compile: bool = False
    resume: bool = True
    overwrite: bool = False
    deterministic: bool = False
    checkpoint_every_steps: int = 0
    verbose: Optional[int] = None

    def to_dict(self):
        return dataclasses.asdict(self)
