"""The paper's explanations over seeds: ``tf_fastls0.analyze``'s outputs of each seed's pair of
models, side by side. ``python -m benchmarks.seed_table`` writes them when its results folder
has an ``analysis/`` folder (or ``--analyses`` names one).

Reads ``s<seed>/`` folders, each one ``tf_fastls0.analyze`` output whose ``--labels`` are the
methods (as ``benchmarks/configs/laptop_claim_analysis.flags`` says), and writes beside them:

- ``analyses.md`` and ``analyses.json``: per figure of the paper's analyses (top Hessian
  eigenvalues, Fig. 2a; gradient-norm curves, Fig. 3a; the location overlap of 1-step sPGD and
  sAA; the interpolation table, Table 2), each method's value per seed, mean and sample standard
  deviation, and in how many seeds the first method's value exceeds the second's (the seeds pair
  up: a pair shares its test images and attack seed);
- ``analyses.png``: the top Hessian eigenvalues (Fig. 2a), accuracy along the segment to the
  1-step example (Table 2) and the gradient norm per training step (Fig. 3a), one mean line per
  method, band from lowest to highest seed.

A figure an analysis folder lacks (an analysis not run, or not yet) is left out of its seed.
"""

import json
import os
import re
import textwrap

import matplotlib

matplotlib.use("Agg")  # no display: files only
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks.harness.spread import mean_and_sd, plot_band  # noqa: E402
from tf_fastls0.analysis.runner import SETTINGS_FILE  # noqa: E402

SEED_FOLDER = re.compile(r"^s(?P<seed>\d+)$")
ALPHAS_SHOWN = ("0.0", "0.5", "1.0")


# (figure, file, value of one model's entry in that file's "models")
FIGURES = (
    ("top Hessian eigenvalue", "hessian.json", lambda m: m["eigenvalues"][0]),
    ("3rd Hessian eigenvalue", "hessian.json", lambda m: m["eigenvalues"][-1]),
    ("gradient norm, mean over logged steps", "gradient_norm.json",
     lambda m: float(np.mean(m["gradient_norm"]))),
    ("gradient norm, max / median (spikes)", "gradient_norm.json",
     lambda m: float(np.max(m["gradient_norm"]) / np.median(m["gradient_norm"]))),
    ("overlap rate, 1-step sPGD vs sAA pixels", "locations.json",
     lambda m: m["mean_overlap_rate"]),
    ("normalised l0 distance, 1-step sPGD vs sAA", "locations.json",
     lambda m: m["mean_normalised_l0_distance"]),
    *((f"accuracy at x + {a} delta_1step (%)", "interpolation.json",
       lambda m, a=a: 100 * m["accuracy_by_alpha"][a]) for a in ALPHAS_SHOWN),
    ("lowest accuracy along the segment (%)", "interpolation.json",
     lambda m: 100 * min(m["accuracy_by_alpha"].values())),
    ("sAA robust accuracy, analysis images (%)", "interpolation.json",
     lambda m: 100 * m["saa_robust_accuracy"]),
)


def seed_folders(analyses_dir):
    """``{seed: folder}`` of the ``s<seed>`` folders, by seed (none if the folder is missing)."""
    folders = {}
    if not os.path.isdir(analyses_dir):
        return folders
    for name in sorted(os.listdir(analyses_dir)):
        match = SEED_FOLDER.match(name)
        if match and os.path.isdir(os.path.join(analyses_dir, name)):
            folders[int(match["seed"])] = os.path.join(analyses_dir, name)
    return dict(sorted(folders.items()))


def _models(folder, file_name):
    path = os.path.join(folder, file_name)
    if not os.path.exists(path):
        return {}
    with open(path) as handle:
        return json.load(handle)["models"]


def _labels(folder):
    """The methods in the order the analysis was given them (its JSON files sort their keys)."""
    path = os.path.join(folder, SETTINGS_FILE)
    if not os.path.exists(path):
        return []
    with open(path) as handle:
        return list(json.load(handle).get("labels") or [])


def collect(folders):
    """``{figure: {method: {seed: value}}}`` and the methods in the order the analyses were
    given them (``--labels``)."""
    values, methods = {}, []
    for seed, folder in folders.items():
        methods += [label for label in _labels(folder) if label not in methods]
        for figure, file_name, read in FIGURES:
            for method, entry in _models(folder, file_name).items():
                if method not in methods:
                    methods.append(method)
                values.setdefault(figure, {}).setdefault(method, {})[seed] = read(entry)
    return values, methods


def summarise(values, methods):
    """Per figure: each method's per-seed values, mean and sd, and how often the first method's
    value exceeds the second's over the seeds both have."""
    summary = {}
    for figure, by_method in values.items():
        entry = {"methods": {}}
        for method in methods:
            per_seed = by_method.get(method, {})
            mean, sd, n = mean_and_sd(per_seed.values())
            entry["methods"][method] = {"per_seed": per_seed, "mean": mean, "sd": sd, "n": n}
        if len(methods) >= 2:
            first, second = (by_method.get(m, {}) for m in methods[:2])
            shared = sorted(set(first) & set(second))
            entry["first_above_second"] = sum(first[s] > second[s] for s in shared)
            entry["paired_seeds"] = len(shared)
        summary[figure] = entry
    return summary


def _number(value):
    return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"


def _cell(entry):
    if entry["mean"] is None:
        return "-"
    seeds = ", ".join(_number(v) for _, v in sorted(entry["per_seed"].items()))
    if entry["sd"] is None:
        return f"{_number(entry['mean'])} (n=1)"
    return f"{_number(entry['mean'])} ± {_number(entry['sd'])} ({seeds})"


def markdown(summary, methods, title):
    comparison = f"{methods[0]} > {methods[1]}" if len(methods) >= 2 else ""
    lines = [f"# {title}", "",
             "Mean ± sample standard deviation over seeds (the seeds' own values in brackets, "
             "seed order).", "",
             "| figure | " + " | ".join(methods)
             + (f" | {comparison} in |" if comparison else " |"),
             "|---|" + "---|" * (len(methods) + bool(comparison))]
    for figure, entry in summary.items():
        cells = [_cell(entry["methods"][m]) for m in methods]
        if comparison:
            cells.append(f"{entry['first_above_second']} of {entry['paired_seeds']} seeds")
        lines.append(f"| {figure} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(folders, methods, path, title):
    """The top Hessian eigenvalues, interpolation accuracy against a, and the gradient norm
    against the training step."""
    read = {name: [_models(folder, name) for folder in folders.values()]
            for name in ("hessian.json", "interpolation.json", "gradient_norm.json")}
    figure, (spectrum, segment, norm) = plt.subplots(1, 3, figsize=(16, 4.6))
    for i, method in enumerate(methods):
        colour = plt.get_cmap("tab10")(i % 10)
        spectra = [models[method]["eigenvalues"] for models in read["hessian.json"]
                   if method in models]
        if spectra:
            count = min(len(values) for values in spectra)
            plot_band(spectrum, range(1, count + 1), [values[:count] for values in spectra],
                      colour, method)
        runs = [models[method]["accuracy_by_alpha"] for models in read["interpolation.json"]
                if method in models]
        if runs:
            alphas = sorted(runs[0], key=float)
            plot_band(segment, [float(a) for a in alphas],
                      [[100 * run[a] for a in alphas] for run in runs], colour, method)
        curves = [models[method] for models in read["gradient_norm.json"] if method in models]
        if curves:
            length = min(len(curve["steps"]) for curve in curves)
            plot_band(norm, curves[0]["steps"][:length],
                      [curve["gradient_norm"][:length] for curve in curves], colour, method)
    spectrum.set_xlabel("eigenvalue (largest first)")
    spectrum.set_ylabel("Hessian eigenvalue of the training loss")
    spectrum.set_yscale("log")
    spectrum.xaxis.get_major_locator().set_params(integer=True)
    spectrum.set_title("Fig. 2a: top Hessian eigenvalues", fontsize=10)
    segment.set_xlabel("a (input x + a delta_1step)")
    segment.set_ylabel("accuracy (%)")
    segment.set_title("Table 2: accuracy along the segment to the 1-step example", fontsize=10)
    norm.set_xlabel("training step")
    norm.set_ylabel("||dL/dtheta|| (logged steps)")
    norm.set_yscale("log")
    norm.set_title("Fig. 3a: gradient norm during training", fontsize=10)
    for axis in (spectrum, segment, norm):
        axis.grid(alpha=0.3)
        if axis.lines:
            axis.legend(fontsize=8)
    figure.suptitle(textwrap.fill(title, 150) + "\nmean over seeds, band: lowest to highest seed",
                    fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_seed_analyses(analyses_dir, title=None):
    """Writes ``analyses.md``, ``analyses.json`` and ``analyses.png`` into ``analyses_dir``;
    returns the summary and the methods."""
    folders = seed_folders(analyses_dir)
    if not folders:
        raise ValueError(f"{analyses_dir} holds no s<seed> analysis folders")
    title = title or os.path.basename(os.path.normpath(analyses_dir))
    values, methods = collect(folders)
    summary = summarise(values, methods)
    with open(os.path.join(analyses_dir, "analyses.md"), "w") as handle:
        handle.write(markdown(summary, methods, title))
    with open(os.path.join(analyses_dir, "analyses.json"), "w") as handle:
        json.dump({"seeds": list(folders), "methods": methods, "figures": summary}, handle,
                  indent=1)
    plot(folders, methods, os.path.join(analyses_dir, "analyses.png"), title)
    return summary, methods

