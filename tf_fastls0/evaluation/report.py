"""``report.json``: accuracies, per-attack survivors and seconds, settings, the model's identity.

Shaped after RobustBench's model-info files (``clean_acc``, ``robust_acc`` in percent,
``architecture``, ``dataset``, ``n_examples``, ``threat_model``) with the l0 budget as ``k`` in
pixels. The accuracies and counts are computed from the per-image records the report carries
(``images``), so shard reports merge into exactly the report an unsharded run writes.
"""

import copy

import numpy as np

from tf_fastls0.attacks import (CASCADES, CLEAN_MISTAKE, DISPLAY_NAMES, STAGE_CODES, SURVIVED,
                                resolve_stages)
from tf_fastls0.evaluation.config import EvalConfig
from tf_fastls0.evaluation.records import Records
from tf_fastls0.evaluation.robust_curve import robust_acc_by_k
from tf_fastls0.utils.old_names import renamed_keys

UNITS = {"clean_acc": "percent", "robust_acc": "percent", "k": "pixels",
         "seconds": "wall-clock seconds per attack stage, over all sessions (each batch's include "
                    "tracing the attacks)",
         "wall_seconds": "wall-clock seconds of this session (merged: the sum over shards)"}
K_NOTE = ("k counts pixels (positions h, w): every channel of a chosen pixel may change. Other "
          "libraries often count l0 over channel entries (H*W*C), where the same k is a smaller "
          "budget.")


def k_note(threat):
    """What k counts under ``threat`` (a ``threats.Threat``)."""
    if threat.is_pixels:
        return K_NOTE
    return (f"k counts {threat.unit} ({threat.description}): the changed pixels lie inside at "
            f"most k of the threat's {threat.groups} {threat.unit}, every channel of them may "
            "change.")


def upgraded(report):
    """``report`` (a ``report.json`` dict) with the settings and budget keys an earlier version
    wrote (``iters``, ``rs_queries``) under today's names, so old shards merge and compare."""
    report = copy.deepcopy(report)
    for part in ("settings", "budget"):
        if isinstance(report.get(part), dict):
            report[part] = renamed_keys(EvalConfig, report[part])
    return report


# Fields that differ between runs of the same evaluation (time, where it wrote, how it was split
# into sessions); ``comparable`` drops them.
RUN_SPECIFIC = ("started_at", "finished_at", "wall_seconds", "merged_from")
RUN_SPECIFIC_SETTINGS = ("output_dir", "resume", "max_batches", "save_adversarial", "progress")


def summarise(records):
    """The computed part of a report from finished ``Records``."""
    count = len(records.indices)
    first = records.broken_by[records.attacks[0]]
    robust = np.all([codes == SURVIVED for codes in records.broken_by.values()], axis=0)
    curves = {name: robust_acc_by_k(counts) for name, counts in records.min_pixels.items()}
    extra = {"robust_acc_by_k": curves} if curves else {}
    return {
        "n_examples": count,
        "n_clean_correct": int(np.sum(first != CLEAN_MISTAKE)),
        "n_robust": int(np.sum(robust)),
        "clean_acc": _percent(np.sum(first != CLEAN_MISTAKE), count),
        "robust_acc": _percent(np.sum(robust), count),
        "attacks": {name: _attack_summary(name, records.broken_by[name], records.seconds[name])
                    for name in records.attacks},
        "images": {
            "indices": [int(i) for i in records.indices],
            "labels": [int(label) for label in records.labels],
            "broken_by": {name: [int(code) for code in codes]
                          for name, codes in records.broken_by.items()},
            **({"min_pixels": {name: [int(count) for count in counts]
                               for name, counts in records.min_pixels.items()}}
               if records.min_pixels else {}),
        },
        **extra,
    }


def _attack_summary(name, codes, seconds):
    """Survivors of attack ``name``; for the sAA cascade also after each stage (cumulative)."""
    count = len(codes)
    stages = resolve_stages(name)
    summary = {"robust_acc": _percent(np.sum(codes == SURVIVED), count),
               "survivors": int(np.sum(codes == SURVIVED)),
               "seconds": float(sum(seconds.values())),
               "cumulative": name in CASCADES}
    if name in CASCADES:
        summary["stages"] = {}
        for position, stage in enumerate(stages):
            later = [STAGE_CODES[s] for s in stages[position + 1:]]
            alive = int(np.sum((codes == SURVIVED) | np.isin(codes, later)))
            summary["stages"][stage] = {"robust_acc": _percent(alive, count), "survivors": alive,
                                        "seconds": float(seconds[stage])}
    return summary


def _percent(part, whole):
    return 100.0 * float(part) / whole if whole else 0.0


def records_from_report(report):
    """The ``Records`` a report was computed from (what merging adds up)."""
    images = report["images"]
    seconds = {}
    for name, summary in report["attacks"].items():
        if "stages" in summary:
            seconds[name] = {stage: s["seconds"] for stage, s in summary["stages"].items()}
        else:
            seconds[name] = {resolve_stages(name)[0]: summary["seconds"]}
    return Records(np.asarray(images["indices"], np.int64), np.asarray(images["labels"], np.int32),
                   {name: np.asarray(codes, np.int32)
                    for name, codes in images["broken_by"].items()}, seconds,
                   {name: np.asarray(counts, np.int32)
                    for name, counts in images.get("min_pixels", {}).items()})


def comparable(report):
    """``report`` without what differs between runs of one evaluation: timestamps, seconds, where
    it wrote, and the session flags (``--resume``, ``--max_batches``, ...)."""
    report = upgraded(report)
    for key in RUN_SPECIFIC:
        report.pop(key, None)
    for key in RUN_SPECIFIC_SETTINGS:
        report["settings"].pop(key, None)
    for summary in report["attacks"].values():
        summary.pop("seconds", None)
        for stage in summary.get("stages", {}).values():
            stage.pop("seconds", None)
    return report


def markdown_table(report, label=None):
    """A row like the paper's Table 4: clean | each attack alone | sAA (robust accuracy, %)."""
    names = [name for name in report["attacks"] if name != "saa"]
    columns = ["model", "k", "n", "clean"] + [DISPLAY_NAMES[name] for name in names]
    k = str(report["k"]) if report.get("k_unit", "pixels") == "pixels" else \
        f"{report['k']} {report['k_unit']}"
    values = [label or report["architecture"], k, str(report["n_examples"]),
              f"{report['clean_acc']:.1f}"]
    values += [f"{report['attacks'][name]['robust_acc']:.1f}" for name in names]
    if "saa" in report["attacks"] or len(names) > 1:
        columns.append("sAA" if "saa" in report["attacks"] else "all attacks")
        values.append(f"{report['robust_acc']:.1f}")
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns),
             "| " + " | ".join(values) + " |"]
    return "\n".join(lines)
