"""A plain PyTorch reference of our training steps, for timing beside ours
(``benchmarks/torch_step_cost.py``). Needs the ``torch`` extra. Not shipped, not an attack to
trust: it exists so that "as fast as PyTorch" has a PyTorch to be measured against."""
