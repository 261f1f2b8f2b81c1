"""Markdown tables of the analyses' figures, laid out like the paper's (Table 2: interpolation)."""


def _percent(value):
    return "-" if value is None else f"{100.0 * value:.1f}"


def interpolation_table(accuracies, robust=None):
    """Rows = models, columns = accuracy (%) on ``x + a * delta_1step`` per a, then sAA.

    Args:
      accuracies: ``{model: {a: accuracy}}`` (the same alphas for every model).
      robust: ``{model: sAA robust accuracy}`` (optional column).
    """
    alphas = sorted({alpha for by_alpha in accuracies.values() for alpha in by_alpha})
    header = ["model"] + [f"a={alpha:g}" for alpha in alphas] + (["sAA"] if robust else [])
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for name, by_alpha in accuracies.items():
        cells = [name] + [_percent(by_alpha.get(alpha)) for alpha in alphas]
        if robust:
            cells.append(_percent(robust.get(name)))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
