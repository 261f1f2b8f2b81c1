"""The training methods by name: which objective each trains and which add-ons it implies.

Plain data, read by training (``recipe.py`` turns a method and a config into what ``train_step``
does), by the analysis (``--loss=auto`` takes a run's objective from here) and by the benchmark
harness. Adding a method is one entry here; a new objective is a record in its own module
(``losses/records.Objective``) and one line in ``losses/objectives.OBJECTIVES``, a new step
add-on a record with its hooks (``losses/records.AddOn``) and one line in ``ADD_ONS``;
``TrainConfig`` takes each record's settings as a field of the record's name (``config.py``), and
the settings a method reads are its records' (``method_settings.py``).

Names a reader cannot confuse: ``sparse_at`` is sparse adversarial training (sAT), and
``self_adaptive`` (``--soft_labels``) is self-adaptive training's soft labels (SAT in the paper).
Both were once called ``sat``; that name is still accepted for each and means what it meant.
"""

import dataclasses

from tf_fastls0.losses import fast_bat, grad_align, sparse_noise
from tf_fastls0.losses.objectives import OBJECTIVES
from tf_fastls0.training import atta_buffer, awp, layer_aware, soft_label_buffer

# The step add-ons by name (``losses.records.AddOn``): each one's settings are the
# ``TrainConfig`` field of its name; the step calls their hooks in this order.
ADD_ONS = {record.name: record for record in (
    sparse_noise.ADD_ON,  # N-FGSM's noise before the attack (losses/sparse_noise.py)
    soft_label_buffer.ADD_ON,  # self-adaptive soft labels, the objective's targets
    grad_align.ADD_ON,  # GradAlign's regulariser (losses/grad_align.py) added to the loss
    fast_bat.ADD_ON,  # Fast-BAT's implicit-gradient term (losses/fast_bat.py) added to the loss
    layer_aware.ADD_ON,  # LAP's layer-aware weight step (training/layer_aware.py) before the attack
    atta_buffer.ADD_ON,  # ATTA: the attack starts from last epoch's perturbation (atta_buffer.py)
    awp.ADD_ON,  # AWP: the loss and its gradient at perturbed weights (training/awp.py)
)}


@dataclasses.dataclass(frozen=True)
class Method:
    """``objective``: a name in ``losses.objectives.OBJECTIVES``; ``adversarial``: whether the
    batch is attacked; ``add_ons``: names in ``ADD_ONS`` every run of the method has (a run adds
    the optional ones, those with a ``switch``, by their setting: ``--awp_enabled``, ``--nfgsm_noise``,
    ``--soft_labels``)."""

    objective: str
    adversarial: bool = True
    add_ons: tuple = ()
    summary: str = ""

    @property
    def objective_record(self):
        """The objective's record (``losses.records.Objective``)."""
        return OBJECTIVES[self.objective]

    def has(self, add_on):
        return add_on in self.add_ons

    @property
    def self_adaptive(self):
        return self.has(soft_label_buffer.ADD_ON.name)

    @property
    def nfgsm_noise(self):
        return self.has(sparse_noise.ADD_ON.name)


METHODS = {
    "standard": Method("clean", adversarial=False, summary="clean cross-entropy, no attack"),
    "sparse_at": Method("sparse_at", summary="sAT: cross-entropy on sPGD examples"),
    "tradeoff": Method("tradeoff", summary="Tradeoff, paper Eq. 8"),
    "strades": Method("strades", summary="sTRADES: CE + beta KL(clean || adversarial)"),
    "fast_ls_l0": Method("strades", add_ons=("soft_labels", "nfgsm_noise"),
                         summary="Fast-LS-l0: 1-step sTRADES + self-adaptive soft labels + "
                                 "N-FGSM noise (the paper's method)"),
    # Baselines of the paper's Table 6, on the same sPGD examples (sources in losses/<name>.py).
    "mart": Method("mart", summary="MART: boosted CE + beta misclassification-weighted KL"),
    "label_smoothing": Method("label_smoothing",
                              summary="sAT with label-smoothed targets"),
    "nuat": Method("nuat", summary="NuAT: clean CE + lambda nuclear norm of the logit change"),
    "advlc": Method("advlc", summary="AdvLC: sAT + lambda top-q logit variation"),
    "grad_align": Method("sparse_at", add_ons=("grad_align",),
                         summary="GradAlign: sAT + lambda (1 - cos) of input gradients at x and "
                                 "at a random sparse point"),
    "atta": Method("sparse_at", add_ons=("atta",),
                   summary="ATTA: sAT whose attack starts from each example's perturbation of the "
                           "previous epoch"),
    "n_aaer": Method("aaer", add_ons=("nfgsm_noise",),
                     summary="N-AAER: N-FGSM noise + sAT + lambda penalty on the abnormal "
                             "examples (loss lowered by the attack): their count, lost loss and "
                             "output variation"),
    "n_lap": Method("sparse_at", add_ons=("nfgsm_noise", "lap"),
                    summary="N-LAP: N-FGSM noise + sAT from weights moved each step by a "
                            "layer-aware weight step (--lap_step), strongest in the first "
                            "layers"),
    "fast_bat": Method("sparse_at", add_ons=("fast_bat",),
                       summary="Fast-BAT: sAT + the bi-level problem's implicit-gradient term "
                               "through the attack's free entries"),
}
METHOD_ALIASES = {"sat": "sparse_at"}

SOFT_LABELS = ("none", "self_adaptive")
SOFT_LABEL_ALIASES = {"sat": "self_adaptive"}


def methods_help():
    return "Training method: " + "; ".join(f"{name} ({method.summary})"
                                           for name, method in METHODS.items()) + "."


def add_ons_of(method, setting_of):
    """The records (``ADD_ONS``, in its order) of the add-ons a run of ``method`` (a ``Method``)
    has: those it lists and, for an adversarial method, those switched on by the run's settings
    (``setting_of(name)``: the run's value of the setting ``name``, None where it has none)."""
    if not method.adversarial:
        return ()
    return tuple(record for record in ADD_ONS.values()
                 if method.has(record.name) or record.switched_on(setting_of(record.switch_setting)))


def method_named(name):
    """The ``Method`` of ``name``, an old name too (a run folder's ``config.json`` may hold one)."""
    return METHODS[METHOD_ALIASES.get(name, name)]
