"""``--save_adversarial``: the adversarial images as ``.npz`` and a PNG grid of a few of them.

The ``.npz`` holds ``adversarial`` (float32 [N, H, W, C] in [0, 1]; the clean image where no attack
broke it), ``clean`` (uint8), ``labels``, ``indices`` (positions in the test split),
``broken_by_<attack>`` (stage codes, see ``records``) and ``stage_codes`` (JSON). The PNG beside
it (same name, ``.png``) shows for a few examples, broken ones first: the clean image, the
adversarial image, and the map of perturbed pixels.
"""

import json
import os

import numpy as np

from tf_fastls0.attacks import CLEAN_MISTAKE, STAGE_CODES, SURVIVED
from tf_fastls0.utils.atomic import atomic_path
from tf_fastls0.utils.cli import UsageError
from tf_fastls0.utils.output_paths import check_output_file

GRID_EXAMPLES = 8
FLAG = "--save_adversarial"


def check_adversarial_path(path):
    """``UsageError`` unless ``path`` and the PNG beside it can be written; checked before any
    attack runs, so a bad path does not waste the evaluation."""
    check_output_file(path, FLAG)
    png = grid_path(path)
    if os.path.abspath(png) == os.path.abspath(path):
        raise UsageError(f"{FLAG} {path} would be overwritten by its own PNG grid; give the "
                         "file the .npz suffix")
    check_output_file(png, f"{FLAG}'s grid")


def grid_path(path):
    return os.path.splitext(path)[0] + ".png"


def save_adversarial(path, clean, adversarial, records, class_names, predict):
    """Writes ``path`` (.npz) and its PNG grid; ``predict(images) -> labels`` titles the grid."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    codes = {"clean_mistake": CLEAN_MISTAKE, "survived": SURVIVED, **STAGE_CODES}
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as handle:
            np.savez(handle, adversarial=adversarial.astype(np.float32), clean=clean,
                     labels=records.labels, indices=records.indices,
                     stage_codes=np.array(json.dumps(codes)),
                     **{f"broken_by_{name}": c for name, c in records.broken_by.items()})
    png = grid_path(path)
    shown = _examples_to_show(records)
    plot_grid(png, clean[shown], adversarial[shown], records.labels[shown],
              predict(adversarial[shown]), records.indices[shown], class_names)
    return png


def _examples_to_show(records):
    """Broken images first, then robust ones, then clean mistakes."""
    codes = np.stack(list(records.broken_by.values()))
    broken = np.any(codes > 0, axis=0)
    robust = np.all(codes == SURVIVED, axis=0)
    order = np.concatenate([np.flatnonzero(broken), np.flatnonzero(robust),
                            np.flatnonzero(~broken & ~robust)])
    return order[:GRID_EXAMPLES]


def plot_grid(path, clean, adversarial, labels, predictions, indices, class_names):
    """Rows: clean, adversarial, perturbed-pixel map; one column per example."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    count = max(len(clean), 1)
    figure, axes = plt.subplots(3, count, figsize=(1.6 * count, 5.2), squeeze=False)
    clean = clean.astype(np.float32) / 255.0
    for column in range(len(clean)):
        changed = np.any(adversarial[column] != clean[column], axis=-1)
        panels = (
            (_rgb(clean[column]), f"#{indices[column]} {_name(class_names, labels[column])}"),
            (_rgb(adversarial[column]), f"-> {_name(class_names, predictions[column])}"),
            (changed.astype(np.float32), f"{int(changed.sum())} px changed"))
        for row, (image, title) in enumerate(panels):
            axes[row, column].imshow(image, cmap="gray" if image.ndim == 2 else None,
                                     vmin=0.0, vmax=1.0, interpolation="nearest")
            axes[row, column].set_title(title, fontsize=7)
    for axis in axes.flat:
        axis.axis("off")
    for row, name in enumerate(("clean", "adversarial", "perturbed")):
        axes[row, 0].text(-0.1, 0.5, name, transform=axes[row, 0].transAxes, rotation=90,
                          ha="right", va="center", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _rgb(image):
    return image[..., 0] if image.shape[-1] == 1 else np.clip(image, 0.0, 1.0)


def _name(class_names, label):
    label = int(label)
    return str(class_names[label]) if 0 <= label < len(class_names) else str(label)
