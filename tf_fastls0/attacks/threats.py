"""Structured sparse threat models: which pixels an l0 attack may change, counted in structures.

A threat is (budget, structure): the budget ``eps`` = k counts structures in the unit a user reads
(pixels, patches, lines, groups), and the structure maps the H*W pixel positions to G groups; an
attack chooses at most k groups and may change every pixel of the groups it chose (all channels,
any values in [0, 1]). ``THREATS`` names them once (``threat_config.py`` holds the settings that
choose one):

- ``pixels``: every position is its own group (SPEC §1; the attacks keep their own pixel code, so
  ``--threat=pixels`` gives exactly the results of the pixel attacks);
- ``patches``: s x s squares, ``anywhere`` (every one of the (H-s+1)(W-s+1) positions; chosen
  patches may overlap) or on a ``grid`` (disjoint tiles from the top-left corner; the tiles of the
  last row and column are cut by the border when s does not divide the side);
- ``columns`` / ``rows``: whole image lines;
- ``groups``: a user's map ``[H, W]`` of integer group ids (a ``.npy`` file); negative ids mark
  pixels no group holds, which are never changed.

A threat gives the two maps the attacks need: ``to_pixels`` (group values ``[B, G]`` >= 0 ->
pixel values ``[B, H, W, 1]``, the maximum over the groups that hold the pixel, so a 0/1 group
mask becomes the union of the chosen groups) and ``to_groups`` (pixel values -> their sum over each
group, the adjoint the mask gradient needs). Disjoint groups use a gather from a ``[H*W]`` group id
map and a segment sum; overlapping patches use a max-pool and a sum-pool, so no ``[G, H*W]``
membership matrix is ever built (it would not fit at 224x224).
"""

import dataclasses
import os

import numpy as np
import tensorflow as tf

from tf_fastls0.attacks import registry
from tf_fastls0.utils.cli import UsageError

# threat name -> the unit its budget counts
THREATS = {"pixels": "pixels", "patches": "patches", "columns": "columns", "rows": "rows",
           "groups": "groups"}
PLACEMENTS = ("anywhere", "grid")


@dataclasses.dataclass(frozen=True, eq=False)
class Threat:
    """One structure on images of one size; build it with ``make_threat`` (compared by identity:
    it holds an array)."""
    name: str
    height: int
    width: int
    groups: int  # G
    group_ids: np.ndarray = None  # [H*W] int32 group of each pixel (-1: none); None: sliding
    patch_size: int = 0  # the side of a sliding patch (``anywhere``)
    description: str = ""

    @property
    def unit(self):
        return THREATS[self.name]

    @property
    def is_pixels(self):
        return self.name == "pixels"

    def to_pixels(self, values):
        """Group values ``[B, G]`` (>= 0) -> pixel values ``[B, H, W, 1]``: per pixel the largest
        value of the groups holding it (0 where none does)."""
        values = tf.convert_to_tensor(values)
        if self.group_ids is None:
            return self._sliding_to_pixels(values)
        padded = tf.concat([values, tf.zeros_like(values[:, :1])], axis=1)  # id -1 -> column G
        ids = np.where(self.group_ids < 0, self.groups, self.group_ids)
        return tf.reshape(tf.gather(padded, ids, axis=1), [-1, self.height, self.width, 1])

    def to_groups(self, values):
        """Pixel values ``[B, H, W, 1]`` -> their sum over each group, ``[B, G]``."""
        values = tf.convert_to_tensor(values)
        if self.group_ids is None:
            return self._sliding_to_groups(values)
        flat = tf.transpose(tf.reshape(values, [-1, self.height * self.width]))
        ids = np.where(self.group_ids < 0, self.groups, self.group_ids)
        sums = tf.math.unsorted_segment_sum(flat, ids, self.groups + 1)
        return tf.transpose(sums[:self.groups])

    def membership(self):
        """``[G, H*W]`` bool, which pixels each group holds (for tests and small images)."""
        eye = tf.eye(self.groups)
        return tf.reshape(self.to_pixels(eye), [self.groups, -1]).numpy() > 0

    def settings(self, eps):
        """What ``report.json`` says about the threat at budget ``eps``."""
        return {"name": self.name, "eps": int(eps), "unit": self.unit,
                "groups": self.groups, "description": self.description}

    def _sliding_to_pixels(self, values):
        s = self.patch_size
        grid = tf.reshape(values, [-1, self.height - s + 1, self.width - s + 1, 1])
        grid = tf.pad(grid, [[0, 0], [s - 1, s - 1], [s - 1, s - 1], [0, 0]])
        return tf.nn.max_pool2d(grid, s, 1, "VALID")

    def _sliding_to_groups(self, values):
        s = self.patch_size
        sums = tf.nn.avg_pool2d(values, s, 1, "VALID") * float(s * s)
        return tf.reshape(sums, [-1, self.groups])


def make_threat(name, image_shape, *, patch_size=3, placement="anywhere", group_map=None):
    """The threat ``name`` (one of ``THREATS``) on images of ``image_shape`` ``(H, W, ...)``.

    ``patch_size`` and ``placement`` shape ``patches``; ``group_map`` (an int array ``[H, W]`` or
    the path of a ``.npy`` file holding one) gives ``groups``. Raises ``UsageError``.
    """
    height, width = int(image_shape[0]), int(image_shape[1])
    if name not in THREATS:
        raise UsageError(f"unknown threat {name!r}: choose one of {', '.join(THREATS)}")
    rows, columns = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    if name == "pixels":
        return _segments(name, height, width, rows * width + columns, "single pixels")
    if name == "columns":
        return _segments(name, height, width, columns, "whole columns")
    if name == "rows":
        return _segments(name, height, width, rows, "whole rows")
    if name == "groups":
        ids = _group_ids(group_map, height, width)
        return _segments(name, height, width, ids, f"{ids.max() + 1} groups of a user's map")
    if placement not in PLACEMENTS:
        raise UsageError(f"unknown patch placement {placement!r}: choose one of "
                         f"{', '.join(PLACEMENTS)}")
    if not 1 <= patch_size <= min(height, width):
        raise UsageError(f"--patch_size={patch_size} does not fit a {height}x{width} image")
    if placement == "grid":
        tiles_across = -(-width // patch_size)
        ids = (rows // patch_size) * tiles_across + columns // patch_size
        return _segments(name, height, width, ids,
                         f"{patch_size}x{patch_size} patches on a grid")
    groups = (height - patch_size + 1) * (width - patch_size + 1)
    return Threat(name, height, width, groups, None, patch_size,
                  f"{patch_size}x{patch_size} patches anywhere")


def check_budget(threat, flag, eps):
    """Raises ``UsageError`` naming ``--flag`` when ``eps`` exceeds the threat's groups."""
    if eps > threat.groups:
        raise UsageError(f"--{flag}={eps} is more than the {threat.groups} {threat.unit} of the "
                         f"threat ({threat.description}, {threat.height}x{threat.width} images)")


def _segments(name, height, width, ids, description):
    ids = np.asarray(ids, np.int64).reshape(-1)
    return Threat(name, height, width, int(ids.max(initial=-1)) + 1, ids.astype(np.int32),
                  description=description)


def _group_ids(group_map, height, width):
    """A user's group map as ids 0..G-1 (in the order of the original ids; negative stays -1)."""
    if group_map is None or (isinstance(group_map, str) and not group_map):
        raise UsageError("--threat=groups needs --group_map (a .npy file of an int [H, W] map)")
    if isinstance(group_map, (str, os.PathLike)):
        try:
            group_map = np.load(group_map, allow_pickle=False)
        except (OSError, ValueError) as error:
            raise UsageError(f"--group_map={group_map}: cannot read it as a .npy file "
                             f"({error})") from None
    group_map = np.asarray(group_map)
    if group_map.shape != (height, width) or not np.issubdtype(group_map.dtype, np.integer):
        raise UsageError(f"--group_map must hold an integer {height}x{width} map, got "
                         f"{group_map.dtype} {group_map.shape}")
    if not np.any(group_map >= 0):
        raise UsageError("--group_map has no group (every id is negative)")
    _, dense = np.unique(np.where(group_map < 0, -1, group_map), return_inverse=True)
    dense = dense.reshape(height, width)
    return dense - 1 if np.any(group_map < 0) else dense


def check_attacks(name, attacks):
    """Raises ``UsageError`` when an evaluation stage or cascade of ``attacks`` attacks pixels
    only and the threat ``name`` is structured."""
    if name == "pixels":
        return
    stages = [stage for attack in attacks for stage in registry.CASCADES.get(attack, (attack,))]
    pixel_only = [stage for stage in stages if not registry.ATTACKS[stage].structured]
    if pixel_only:
        structured = ('saa',) + registry.structured_stages()
        raise UsageError(f"--attacks={','.join(pixel_only)} attack pixels only, not "
                         f"--threat={name}: use {', '.join(structured)}")
