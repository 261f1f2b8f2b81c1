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
    verbose: Optional[int] = None

    def to_dict(self):
        return dataclasses.asdict(self)
