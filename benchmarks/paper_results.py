"""The paper's figures (SPEC §7), keyed by benchmark table and run name, for side-by-side tables.

Every figure is PreAct ResNet-18, 100 epochs, Sparse-AutoAttack with the paper's budget (10,000 sPGD iterations per stage, 10,000 Sparse-RS queries); accuracies
in percent, ``train_seconds`` on one RTX 6000 Ada; CIFAR-10 at eps = 20 pixels except Table 7
(CIFAR-100, eps 10) and Table 8 (GTSRB, eps 12), of which SPEC §7 gives the Fast-LS-l0 (T) row
only, and Table 10 (ConvNeXt and Swin), of which it gives none. A run name in a table's config
that is listed here gets the paper's figures (or, in Table 10, its label) beside its own.
"""

from typing import NamedTuple, Optional


class PaperRow(NamedTuple):
    label: str
    saa: Optional[float] = None
    clean: Optional[float] = None
    cornersearch: Optional[float] = None  # CornerSearch (CS), on 1,000 images
    rs: Optional[float] = None
    saif: Optional[float] = None
    spgd_proj: Optional[float] = None
    spgd_unproj: Optional[float] = None
    train_seconds: Optional[float] = None


def _hours(hours, minutes):
    return 3600.0 * hours + 60.0 * minutes


# Figures the paper gives for a row, in the order a table shows them.
FIGURES = ("clean", "spgd_unproj", "spgd_proj", "rs", "cornersearch", "saif", "saa",
           "train_seconds")

TABLES = {
    "table1": {
        "sat_1step": PaperRow("sAT, t = 1", saa=0.0),
        "sat_20step": PaperRow("sAT, t = 20", saa=36.2),
        "strades_t_1step": PaperRow("sTRADES, t = 1", saa=31.0),
        "strades_t_20step": PaperRow("sTRADES, t = 20", saa=61.7),
    },
    "table3": {
        "sat_1step": PaperRow("sAT", saa=0.0),
        "sat_1step_nfgsm": PaperRow("sAT +N-FGSM", saa=0.3),
        "sat_1step_sat": PaperRow("sAT +SAT", saa=29.3),
        "sat_1step_sat_nfgsm": PaperRow("sAT +SAT&N-FGSM", saa=43.8),
        "tradeoff_1step": PaperRow("Tradeoff", saa=2.6),
        "tradeoff_1step_nfgsm": PaperRow("Tradeoff +N-FGSM", saa=17.5),
        "tradeoff_1step_sat": PaperRow("Tradeoff +SAT", saa=30.3),
        "tradeoff_1step_sat_nfgsm": PaperRow("Tradeoff +SAT&N-FGSM", saa=39.2),
        "strades_t_1step": PaperRow("sTRADES (T)", saa=31.0),
        "strades_t_1step_nfgsm": PaperRow("sTRADES (T) +N-FGSM", saa=46.9),
        "strades_t_1step_sat": PaperRow("sTRADES (T) +SAT", saa=61.4),
        "fast_ls_l0_t": PaperRow("sTRADES (T) +SAT&N-FGSM = Fast-LS-l0 (T)", saa=63.0),
        "strades_f_1step": PaperRow("sTRADES (F)", saa=55.4),
        "strades_f_1step_nfgsm": PaperRow("sTRADES (F) +N-FGSM", saa=55.9),
        "strades_f_1step_sat": PaperRow("sTRADES (F) +SAT", saa=59.4),
        "fast_ls_l0_f": PaperRow("sTRADES (F) +SAT&N-FGSM = Fast-LS-l0 (F)", saa=62.6),
    },
    "table4a": {
        "sat_20step": PaperRow("sAT, 20-step", clean=84.5, cornersearch=52.1, rs=36.2,
                               saif=76.6, spgd_proj=75.9, spgd_unproj=75.3, saa=36.2,
                               train_seconds=_hours(5, 16)),
        "strades_t_20step": PaperRow("sTRADES, 20-step", clean=89.8, cornersearch=69.9, rs=61.8,
                                     saif=84.9, spgd_proj=84.6, spgd_unproj=81.7, saa=61.7,
                                     train_seconds=_hours(5, 30)),
        "strades_t_20step_sn": PaperRow("sTRADES+S&N, 20-step", clean=82.2, cornersearch=66.3,
                                        rs=66.1, saif=77.1, spgd_proj=74.1, spgd_unproj=72.2,
                                        saa=65.5, train_seconds=_hours(5, 22)),
        "fast_ls_l0_t": PaperRow("Fast-LS-l0 (T)", clean=82.5, cornersearch=69.3, rs=65.4,
                                 saif=75.7, spgd_proj=67.2, spgd_unproj=67.7, saa=63.0,
                                 train_seconds=_hours(0, 50)),
        "fast_ls_l0_f": PaperRow("Fast-LS-l0 (F)", clean=82.6, cornersearch=69.6, rs=64.1,
                                 saif=75.2, spgd_proj=64.6, spgd_unproj=68.4, saa=62.6,
                                 train_seconds=_hours(0, 59)),
    },
    # Table 6 (other fast methods adapted to l0, 1-step sPGD): every row of the paper's.
    "table6": {
        "grad_align": PaperRow("GradAlign", saa=0.0),
        "grad_align_sn": PaperRow("GradAlign+S&N", saa=34.4),
        "label_smoothing": PaperRow("label smoothing", saa=0.0),
        "nuat": PaperRow("NuAT", saa=51.9),
        "advlc": PaperRow("AdvLC", saa=59.6),
        "mart": PaperRow("MART", saa=48.0),
        "atta": PaperRow("ATTA", saa=0.0),
        "atta_sn": PaperRow("ATTA+S&N", saa=54.7),
        "n_aaer": PaperRow("N-AAER", saa=0.1),
        "n_lap": PaperRow("N-LAP", saa=0.0),
        "fast_bat": PaperRow("Fast-BAT", saa=14.1),
        "flc_pool": PaperRow("FLC Pool", saa=0.0),
        "fast_ls_l0_t": PaperRow("Fast-LS-l0", saa=63.0),
        "fast_ls_l0_awp": PaperRow("Fast-LS-l0 + AWP", saa=65.2),
    },
    # Table 4b (ImageNet-100, ResNet-34, eps 200): SPEC gives no figures; labels only.
    "table4b": {
        "sat_20step": PaperRow("sAT, 20-step"),
        "strades_t_20step": PaperRow("sTRADES, 20-step"),
        "strades_t_20step_sn": PaperRow("sTRADES+S&N, 20-step"),
        "fast_ls_l0_t": PaperRow("Fast-LS-l0 (T)"),
        "fast_ls_l0_f": PaperRow("Fast-LS-l0 (F)"),
    },
    "table7": {
        "fast_ls_l0_t": PaperRow("Fast-LS-l0 (T)", clean=65.3, saa=52.2,
                                 train_seconds=_hours(1, 5)),
    },
    "table8": {
        "fast_ls_l0_t": PaperRow("Fast-LS-l0 (T)", clean=97.8, saa=63.2,
                                 train_seconds=_hours(0, 7)),
    },
    # Table 10 (ConvNeXt and Swin Transformer at about ResNet-18's size): SPEC gives no figures, so
    # its rows carry their labels only.
    "table10": {
        "convnext_tiny_sat_1step": PaperRow("ConvNeXt, sAT (1-step)"),
        "convnext_tiny_strades_t_1step": PaperRow("ConvNeXt, sTRADES (T) (1-step)"),
        "convnext_tiny_fast_ls_l0_t": PaperRow("ConvNeXt, Fast-LS-l0 (T)"),
        "swin_tiny_sat_1step": PaperRow("Swin, sAT (1-step)"),
        "swin_tiny_strades_t_1step": PaperRow("Swin, sTRADES (T) (1-step)"),
        "swin_tiny_fast_ls_l0_t": PaperRow("Swin, Fast-LS-l0 (T)"),
    },
    "table11": {
        "fast_ls_l0_t_sat_start_30pct": PaperRow("SAT from 30% of training", saa=60.2),
        "fast_ls_l0_t": PaperRow("SAT from 50% (Fast-LS-l0 (T))", saa=63.0),
        "fast_ls_l0_t_sat_start_70pct": PaperRow("SAT from 70% of training", saa=62.8),
    },
    "table12": {
        "fast_ls_l0_t_hard_label": PaperRow("hard attack label", saa=62.6),
        "fast_ls_l0_t": PaperRow("soft attack label (Fast-LS-l0 (T))", saa=63.0),
    },
    "table13": {
        "fast_ls_l0_t_momentum_0.5": PaperRow("SAT momentum 0.5", saa=55.4),
        "fast_ls_l0_t_momentum_0.7": PaperRow("SAT momentum 0.7", saa=60.4),
        "fast_ls_l0_t": PaperRow("SAT momentum 0.9 (Fast-LS-l0 (T))", saa=63.0),
    },
    "table14": {
        "fast_ls_l0_t_beta_1": PaperRow("TRADES beta 1", saa=58.7),
        "fast_ls_l0_t_beta_3": PaperRow("TRADES beta 3", saa=63.0),
        "fast_ls_l0_t": PaperRow("TRADES beta 6 (Fast-LS-l0 (T))", saa=63.0),
    },
}


def paper_row(table, run_name):
    """The paper's row for ``run_name`` in ``table`` (``"table1"`` ...), or None."""
    return TABLES.get(table, {}).get(run_name)
