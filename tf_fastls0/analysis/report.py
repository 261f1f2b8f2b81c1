"""What ``python -m tf_fastls0.analyze`` prints: one line per analysis and model, and the tables."""


def _number(value):
    return "n/a" if value is None else f"{value:.4g}"


HEADLINES = {
    "gradient_norm": lambda s: f"largest gradient norm {_number(s['max'])} at step {s['max_step']}",
    "hessian": lambda s: "top eigenvalues " + ", ".join(_number(v) for v in s["eigenvalues"]),
    "landscape": lambda s: (f"loss {_number(s['centre_loss'])} at the centre, "
                            f"{_number(s['min_loss'])} .. {_number(s['max_loss'])} on the grid"),
    "locations": lambda s: (f"normalised l0 distance {_number(s['mean_normalised_l0_distance'])}, "
                            f"overlap {_number(s['mean_overlap_rate'])} over "
                            f"{s['images_counted']} images"),
    "interpolation": lambda s: f"sAA robust accuracy {_number(s['saa_robust_accuracy'])}",
    "gradient_distance": lambda s: (f"mean gradient distance {_number(s['mean'])} over "
                                    f"{s['examples']} examples"),
}


def report_lines(outcome):
    """Lines for the console from ``runner.run_analyses``'s return value."""
    lines = []
    for analysis, by_model in outcome["results"].items():
        for label, summary in by_model.items():
            lines.append(f"{analysis} [{label}]: {HEADLINES[analysis](summary)}")
    for text in outcome["texts"].values():
        lines.extend(["", text])
    lines.append(f"outputs in {outcome['output_dir']}")
    return lines
