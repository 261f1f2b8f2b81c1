"""A new objective with a coefficient, added as a module would add it: its record (below, as
``losses/toy.py`` would hold it), one line in ``objectives.OBJECTIVES`` and one in
``methods.METHODS`` (done here before the config is made, as an import of the module would).
Prints what the rest of the package made of it as one JSON line (tests/training/test_records.py).
"""

import dataclasses
import json

import numpy as np
from absl import flags

from tf_fastls0.losses import objectives
from tf_fastls0.losses.records import Objective
from tf_fastls0.losses.terms import ObjectiveTerms, classification_term
from tf_fastls0.utils.settings import setting


# --- losses/toy.py -------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class ToySettings:
    weight: float = setting(0.5, "Toy: weight of the clean CE added to sAT.", lower=0.0,
                            upper=1e4)


def toy_loss(clean_logits, adv_logits, targets, weight=ToySettings.weight):
    adversarial = classification_term(adv_logits, targets)
    clean = classification_term(clean_logits, targets)
    return ObjectiveTerms(adversarial + weight * clean, clean, adversarial)


OBJECTIVE = Objective("toy", toy_loss, "Toy", reads_clean=True, settings=ToySettings,
                      log_names=("toy_penalty", "toy_ce"))
# --------------------------------------------------------------------------------------------

objectives.OBJECTIVES["toy"] = OBJECTIVE  # the line in objectives.OBJECTIVES

from tf_fastls0.training import methods  # noqa: E402

methods.METHODS["toy"] = methods.Method("toy", summary="Toy: sAT + weight x clean CE")  # the line

from tf_fastls0.training import hparams  # noqa: E402
from tf_fastls0.training.config import TrainConfig  # noqa: E402
from tf_fastls0.training.method_settings import method_settings  # noqa: E402
from tf_fastls0.utils import settings  # noqa: E402

import toy_run  # noqa: E402  (beside this script; after the table lines)

flag_values = flags.FlagValues()
settings.define_flags(TrainConfig, flag_values=flag_values)
flag_default = flag_values["toy_weight"].default
config, history = toy_run.trained(flag_values, "--method=toy", "--toy_weight=0.25")
print(json.dumps({
    "flag_default": flag_default,
    "config_weight": config.toy.weight,
    "read_back": TrainConfig.from_dict({"method": "toy", "toy_weight": 0.25}).toy.weight,
    "hparams": hparams.logged_settings(config).get("toy_weight"),
    "method_settings": "toy_weight" in method_settings("toy", {}),
    "help": "toy (Toy: sAT" in flag_values["method"].help,
    "logged": sorted(history.history),
    "finite": bool(np.isfinite(history.history["loss"][0])),
}))
