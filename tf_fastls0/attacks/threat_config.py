"""The threat model's settings, shared by training and evaluation (one flag each, defined once
for both): which structures an l0 budget counts (``threats.py`` makes them)."""

import dataclasses
from typing import Optional

from tf_fastls0.attacks import threats
from tf_fastls0.utils import settings
from tf_fastls0.utils.cli import UsageError
from tf_fastls0.utils.settings import setting


@dataclasses.dataclass(frozen=True)
class ThreatConfig:
    threat: str = setting(
        "pixels", "The threat model the l0 budgets (--eps; --train_eps and --eval_eps) count in: "
        "pixels (k positions), patches (k patches of --patch_size, --patch_placement), columns / "
        "rows (k whole lines) or groups (k groups of --group_map). In training it shapes the "
        "attack and the robust validation (N-FGSM noise stays pixel-wise); a structured threat "
        "is evaluated with sPGD and Sparse-RS only.", choices=tuple(threats.THREATS))
    patch_size: int = setting(3, "Side s of the s x s patches of --threat=patches.", lower=1)
    patch_placement: str = setting(
        "anywhere", "Where --threat=patches patches lie: anywhere (every position, may overlap) "
        "or grid (disjoint tiles).", choices=threats.PLACEMENTS)
    group_map: Optional[str] = setting(
        None, "A .npy file of an integer [H, W] map of group ids for --threat=groups (negative: "
        "never changed).", input_file=True)

    def __post_init__(self):
        settings.normalise(self)
        if self.threat == "groups" and not self.group_map:
            raise UsageError("--threat=groups needs --group_map (a .npy file of an int [H, W] "
                             "map)")
        if self.group_map and self.threat != "groups":
            raise UsageError(f"--group_map is only read with --threat=groups, not "
                             f"--threat={self.threat}")

    @property
    def is_pixels(self):
        return self.threat == "pixels"

    def structure(self, image_shape):
        """The ``threats.Threat`` on images of ``image_shape`` ``(H, W, ...)``; ``UsageError``
        when it does not fit them."""
        return threats.make_threat(self.threat, image_shape, patch_size=self.patch_size,
                                   placement=self.patch_placement, group_map=self.group_map)

    def structured(self, image_shape):
        """The structure, or None for pixels (the attacks then run their own pixel code)."""
        return None if self.is_pixels else self.structure(image_shape)

    def tag(self):
        """A short name for folder names: "" for pixels, else e.g. ``patches3x3_`` /
        ``gridpatches3x3_`` / ``columns_`` / ``groups_``."""
        if self.is_pixels:
            return ""
        if self.threat == "patches":
            grid = "grid" if self.patch_placement == "grid" else ""
            return f"{grid}patches{self.patch_size}x{self.patch_size}_"
        return f"{self.threat}_"
