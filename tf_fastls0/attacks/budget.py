"""The one check that an l0 budget fits the images it is spent on."""

from tf_fastls0.utils.cli import UsageError


def check_eps_fits(image_shape, **budgets):
    """Raises ``UsageError`` naming the flag when a budget (pixels) exceeds the H*W pixels of
    ``image_shape`` (``(H, W, C)``): ``check_eps_fits(shape, train_eps=120, eval_eps=20)``."""
    height, width = image_shape[0], image_shape[1]
    for name, eps in budgets.items():
        if eps > height * width:
            raise UsageError(f"--{name}={eps} is more than the {height * width} pixels of a "
                             f"{height}x{width} image")
