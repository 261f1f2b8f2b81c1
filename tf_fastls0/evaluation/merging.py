"""Merges the reports of the shards of one evaluation into the report of the whole evaluation.

The shards must come from the same settings and model (same weights hash), be complete, be every
shard ``0 .. num_shards-1`` exactly once, and hold disjoint images. Per-image records are
concatenated and every count and accuracy is recomputed from them, so the merged report equals
the one an unsharded run writes (up to timestamps; seconds add up).
"""

import copy

from tf_fastls0.evaluation import report as report_lib
from tf_fastls0.evaluation.records import Records
from tf_fastls0.utils.cli import UsageError

# Settings that may differ between the shards of one evaluation.
SHARD_SPECIFIC_SETTINGS = ("shard_index", "model") + report_lib.RUN_SPECIFIC_SETTINGS


class MergeError(UsageError):
    """Reports that are not the shards of one evaluation; the message says why."""


def merge_reports(reports, sources=None):
    """One report from the shard ``reports`` (dicts); ``sources`` names them in messages."""
    sources = list(sources or (f"report {i}" for i in range(len(reports))))
    if not reports:
        raise MergeError("no reports to merge")
    reports = [report_lib.upgraded(report) for report in reports]  # shards of an older version
    for report, source in zip(reports, sources):
        if not report.get("complete"):
            raise MergeError(f"{source} is incomplete ({report.get('n_examples')} images done); "
                             "finish it with --resume before merging")
    _check_same_evaluation(reports, sources)
    _check_shards(reports, sources)
    records = Records.concatenate([report_lib.records_from_report(r) for r in reports])
    ordered = sorted(reports, key=lambda r: r["shard"]["index"])
    merged = copy.deepcopy(ordered[0])
    merged.update(report_lib.summarise(records))
    merged["settings"].update(shard_index=0, num_shards=1)
    merged["shard"] = {"index": 0, "count": 1,
                       "batches": [ordered[0]["shard"]["batches"][0],
                                   ordered[-1]["shard"]["batches"][1]]}
    merged["warnings"] = list(dict.fromkeys(w for r in ordered for w in r["warnings"]))
    merged["started_at"] = min(r["started_at"] for r in reports)
    merged["finished_at"] = max(r["finished_at"] for r in reports)
    merged["wall_seconds"] = sum(r["wall_seconds"] for r in reports)
    merged["merged_from"] = [str(source) for source in sources]
    return merged


def _check_same_evaluation(reports, sources):
    def identity(report):
        settings = {key: value for key, value in report["settings"].items()
                    if key not in SHARD_SPECIFIC_SETTINGS}
        return {"settings": settings, "model sha256": report["model"]["sha256"],
                "dataset": report["dataset"], "data": report["data"]}

    first = identity(reports[0])
    for report, source in zip(reports[1:], sources[1:]):
        other = identity(report)
        differ = [key for key in first if first[key] != other[key]]
        if differ:
            details = differ
            if "settings" in differ:
                details = [key for key in first["settings"] | other["settings"]
                           if first["settings"].get(key) != other["settings"].get(key)]
            raise MergeError(f"{source} and {sources[0]} are not shards of one evaluation: they "
                             f"differ in {', '.join(sorted(details))}")


def _check_shards(reports, sources):
    count = reports[0]["settings"]["num_shards"]
    seen = {}
    for report, source in zip(reports, sources):
        index = report["shard"]["index"]
        if index in seen:
            raise MergeError(f"{source} and {seen[index]} are both shard {index}")
        seen[index] = source
    missing = sorted(set(range(count)) - set(seen))
    if missing:
        raise MergeError(f"shards {', '.join(map(str, missing))} of {count} are missing")
    owner = {}
    for report, source in zip(reports, sources):
        for index in report["images"]["indices"]:
            if index in owner:
                raise MergeError(f"{source} and {owner[index]} both hold test image {index}: "
                                 "the shards overlap")
            owner[index] = source
