r"""Mean and spread over seeds of a harness table whose runs differ only by seed.

``python -m benchmarks.seed_table --results=benchmarks/results/laptop_claim``

Reads the ``results.json`` that ``benchmarks.compare`` wrote, groups its rows by method (a run
named ``<method>_s<seed>`` is seed ``<seed>`` of ``<method>``), and writes beside it:

- ``seeds.md`` and ``seeds.json``: per method, the finished seeds, mean and sample standard
  deviation of clean accuracy, final sAA, the last and best robust validation, and the training
  wall time; per pair of methods, the sAA gap taken seed by seed (runs of the same seed share the
  test images and the attack seed, so the pairing removes the shared part of the noise);
- ``seeds_by_epoch.png``: robust and clean validation accuracy per epoch, one mean line per method
  with a band from the lowest to the highest seed.

Only finished runs (an sAA figure) enter the final-accuracy columns; every run with a robust
validation curve enters the figure, so a table still training can be looked at.

If the results folder has ``analysis/s<seed>/`` folders (``tf_fastls0.analyze`` of each seed's
pair of models; ``--analyses`` names another place), their figures go side by side over seeds
into ``analysis/analyses.md`` and ``analyses.png`` too (``seed_analyses.py``).
"""

import itertools
import json
import math
import os
import re
import textwrap

from absl import app, flags

import matplotlib

matplotlib.use("Agg")  # no display: files only
import matplotlib.pyplot as plt  # noqa: E402

from benchmarks.harness.plot import style_epoch_axis  # noqa: E402
from benchmarks import seed_analyses  # noqa: E402
from benchmarks.harness.spread import mean_and_sd, plot_band  # noqa: E402

FLAGS = flags.FLAGS
# Student's t, two-sided 5 %, by degrees of freedom (standard tables): a gap over n seeds is
# beyond its spread where |t| exceeds the value for n - 1.
T_CRITICAL_5_PERCENT = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365,
                        8: 2.306, 9: 2.262, 10: 2.228}
flags.DEFINE_string("results", None, "Folder holding the harness's results.json (and where the "
                    "seed table and figure go).")
flags.DEFINE_string("title", None, "Title of the table and figure (default: the folder's name).")
flags.DEFINE_string("analyses", None, "Folder of tf_fastls0.analyze outputs, one per seed, named "
                    "s<seed> (default: analysis/ in --results, if there).")
flags.mark_flag_as_required("results")

SEED_SUFFIX = re.compile(r"^(?P<method>.+)_s(?P<seed>\d+)$")
FIGURES = (("clean", "clean %"), ("saa", "sAA %"), ("val_robust_last", "robust val. last %"),
           ("val_robust_best", "robust val. best %"), ("epoch_seconds", "s/epoch (median)"),
           ("train_minutes", "train min"))
CURVES = (("val_robust_by_epoch", "robust validation (%)"),
          ("val_clean_by_epoch", "clean validation (%)"))


def method_and_seed(run_name):
    """``("fast_ls_l0_t", 2)`` for ``fast_ls_l0_t_s2``; a name without a seed suffix is seed 0."""
    match = SEED_SUFFIX.match(run_name)
    if not match:
        return run_name, 0
    return match["method"], int(match["seed"])


def group_by_method(rows):
    """``{method: {seed: row}}``, methods in the order the table lists them."""
    groups = {}
    for row in rows:
        method, seed = method_and_seed(row["run"])
        row = dict(row)
        if row.get("train_seconds") is not None:
            row["train_minutes"] = row["train_seconds"] / 60
        groups.setdefault(method, {})[seed] = row
    return groups


def finished(seeds):
    return {seed: row for seed, row in seeds.items() if row.get("saa") is not None}


def summarise(groups):
    """Per method: the finished seeds and each figure's mean, sd and count."""
    summary = {}
    for method, seeds in groups.items():
        done = finished(seeds)
        entry = {"seeds": sorted(done), "all_seeds": sorted(seeds)}
        for key, _ in FIGURES:
            pool = done if key != "val_robust_best" and key != "val_robust_last" else seeds
            mean, sd, n = mean_and_sd(row.get(key) for row in pool.values())
            entry[key] = {"mean": mean, "sd": sd, "n": n}
        summary[method] = entry
    return summary


def paired_gaps(groups, key="saa"):
    """For each pair of methods (later minus earlier in table order): the per-seed differences
    over the seeds both finished, with their mean and sd, and the paired t statistic."""
    gaps = {}
    for first, second in itertools.combinations(groups, 2):
        a, b = finished(groups[first]), finished(groups[second])
        shared = sorted(set(a) & set(b))
        differences = [b[s][key] - a[s][key] for s in shared]
        mean, sd, n = mean_and_sd(differences)
        gaps[f"{second} - {first}"] = {"seeds": shared, "differences": differences,
                                       "mean": mean, "sd": sd, "n": n, **paired_t(mean, sd, n)}
    return gaps


def paired_t(mean, sd, n):
    """Student's paired t of a mean difference over ``n`` seeds, its degrees of freedom, and
    whether it lies beyond the two-sided 5 % critical value (None where it cannot be said)."""
    if sd is None or sd == 0 or n - 1 not in T_CRITICAL_5_PERCENT:
        return {"t": None, "df": n - 1 if n else None, "beyond_spread": None}
    t = mean / (sd / math.sqrt(n))
    return {"t": t, "df": n - 1, "beyond_spread": abs(t) > T_CRITICAL_5_PERCENT[n - 1]}


def _cell(figure):
    if figure["mean"] is None:
        return "-"
    if figure["sd"] is None:
        return f"{figure['mean']:.1f} (n={figure['n']})"
    return f"{figure['mean']:.1f} ± {figure['sd']:.1f}"


def markdown(summary, gaps, title):
    lines = [f"# {title}", "",
             "Mean ± sample standard deviation over the finished seeds (n = seeds with a final "
             "sAA). Accuracies in percent. s/epoch is each run's median epoch (training and clean "
             "validation), which a run paused or shared in a few epochs does not move; training "
             "minutes add up every trainer invocation's wall time, pauses included.", "",
             "| method | seeds | " + " | ".join(name for _, name in FIGURES) + " |",
             "|---|---|" + "---|" * len(FIGURES)]
    for method, entry in summary.items():
        seeds = ",".join(map(str, entry["seeds"])) or "none yet"
        lines.append(f"| {method} | {seeds} | "
                     + " | ".join(_cell(entry[key]) for key, _ in FIGURES) + " |")
    lines += ["", "sAA gap, paired by seed (same test images and attack seed); t = mean / (sd / "
              "sqrt(n)), beyond its spread where |t| exceeds Student's two-sided 5 % critical "
              f"value for n - 1 degrees of freedom ({T_CRITICAL_5_PERCENT[2]:.2f} for three seeds):",
              "",
              "| gap | seeds | per seed | mean ± sd | paired t (df) | beyond spread (5 %) |",
              "|---|---|---|---|---|---|"]
    for name, gap in gaps.items():
        per_seed = ", ".join(f"{d:+.1f}" for d in gap["differences"]) or "-"
        t = "-" if gap.get("t") is None else f"{gap['t']:.1f} ({gap['df']})"
        beyond = {None: "-", True: "yes", False: "no"}[gap.get("beyond_spread")]
        lines.append(f"| {name} | {','.join(map(str, gap['seeds'])) or '-'} | {per_seed} | "
                     f"{_cell(gap)} | {t} | {beyond} |")
    return "\n".join(lines) + "\n"


def plot_by_epoch(groups, path, title):
    """Mean line and min-max band over seeds per method, robust and clean validation side by
    side. Returns whether any run had a curve."""
    figure, axes = plt.subplots(1, len(CURVES), figsize=(12, 4.6), sharey=True)
    plotted = False
    for axis, (key, name) in zip(axes, CURVES):
        for i, (method, seeds) in enumerate(groups.items()):
            curves = [row[key] for row in seeds.values() if row.get(key)]
            if not curves:
                continue
            plotted = True
            length = min(len(c) for c in curves)
            plot_band(axis, range(1, length + 1), [c[:length] for c in curves],
                      plt.get_cmap("tab10")(i % 10), method)
        style_epoch_axis(axis, name)
    axes[0].set_ylabel("accuracy (%)")
    if plotted:
        axes[0].legend(fontsize=8, loc="upper left")
    figure.suptitle(textwrap.fill(title, 110) + "\nmean over seeds, band: lowest to highest seed",
                    fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return plotted


def write_seed_table(results_dir, title=None):
    """Writes ``seeds.md``, ``seeds.json`` and ``seeds_by_epoch.png`` into ``results_dir``;
    returns the summary and the gaps."""
    with open(os.path.join(results_dir, "results.json")) as f:
        results = json.load(f)
    title = title or os.path.basename(os.path.normpath(results_dir))
    groups = group_by_method(results["rows"])
    summary, gaps = summarise(groups), paired_gaps(groups)
    with open(os.path.join(results_dir, "seeds.md"), "w") as f:
        f.write(markdown(summary, gaps, title))
    with open(os.path.join(results_dir, "seeds.json"), "w") as f:
        json.dump({"methods": summary, "saa_gaps": gaps}, f, indent=1)
    plot_by_epoch(groups, os.path.join(results_dir, "seeds_by_epoch.png"), title)
    return summary, gaps


def main(argv):
    del argv
    summary, gaps = write_seed_table(FLAGS.results, FLAGS.title)
    print(markdown(summary, gaps, FLAGS.title or FLAGS.results))
    analyses = FLAGS.analyses or os.path.join(FLAGS.results, "analysis")
    if FLAGS.analyses or seed_analyses.seed_folders(analyses):
        try:
            title = FLAGS.title or os.path.basename(os.path.normpath(FLAGS.results))
            figures, methods = seed_analyses.write_seed_analyses(analyses, f"{title}: analyses")
        except (OSError, ValueError) as error:
            raise app.UsageError(f"--analyses={analyses}: {error}") from None
        print(seed_analyses.markdown(figures, methods, f"{title}: analyses"))


if __name__ == "__main__":
    app.run(main)
