#!/bin/sh
# The small-model table (issue 40, part 5), from the repository root. Provisional figures were
# measured on a loaded 2-core machine with one thread per framework (the comparison a busy
# machine disturbs least); on a quiet machine run it with the default threads as well (drop the
# two *_threads flags) and with preact_resnet18:1 added to --networks.
python -m benchmarks.small_model \
  --networks=small_cnn:0.5,small_cnn:1,small_cnn:2,small_cnn:4,preact_resnet18:0.125,preact_resnet18:0.25,preact_resnet18:0.5 \
  --epoch_networks= --methods=standard,strades_t_1step,fast_ls_l0_t \
  --batch_size=128 --train_eps=120 --rounds=3 --steps_per_round=2 \
  --torch_threads=1 --tf_threads=1 \
  --output=benchmarks/results/small_model/sweep_1thread.json
# Whole epochs through SparseAdversarialModel.fit (5,000 images, 1-step sTRADES (T)), one and
# default (0) threads:
for threads in 1 0; do
  python -m benchmarks.small_model --networks= --epoch_networks=small_cnn:1 \
    --epoch_method=strades_t_1step --epoch_images=5000 --epoch_rounds=2 --batch_size=128 \
    --train_eps=120 --torch_threads=$threads --tf_threads=$threads \
    --output=benchmarks/results/small_model/epochs_threads$threads.json
done
# The quiet run with default threads and full width (quiet_default_threads.json / .md):
python -m benchmarks.small_model \
  --networks=small_cnn:0.5,small_cnn:1,small_cnn:2,small_cnn:4,preact_resnet18:0.125,preact_resnet18:0.25,preact_resnet18:0.5,preact_resnet18:1 \
  --epoch_networks=small_cnn:1 --epoch_method=strades_t_1step --epoch_images=5000 --epoch_rounds=2 \
  --methods=standard,strades_t_1step,fast_ls_l0_t --batch_size=128 --train_eps=120 --rounds=3 \
  --steps_per_round=2 --output=benchmarks/results/small_model/quiet_default_threads.json
