#!/usr/bin/env bash
# Reproduces everything under models/: the two transformers A and B (same recipe, seeds 1 and 2) and their SAE
# runs (see each folder's README.md for the figures this produced on a 2-core Zen 5 machine), and the
# investigations of runs A/1 and B/1 (and of both models' neurons) that `saekit demo` serves.
# Usage: scripts/train-shipped.sh [models|saes|investigations|all]   (from the repository root after `npm ci`)
set -euo pipefail
what=${1:-all}
saekit() { node bin/saekit.js "$@"; }

if [[ $what == models || $what == all ]]; then
  for pair in A:1 B:2; do
    name=${pair%%:*}; seed=${pair##*:}
    saekit model train --out "models/$name" --seed "$seed" --tokens 3.2M --batch 16 --accum 1 --lr 2e-3 --warmup 100 \
      --eval-every 200 --checkpoint-every 200 --dtype BF16 --discard-checkpoint
  done
fi

if [[ $what == saes || $what == all ]]; then
  # Run 1 (4,096 features, 8 × d_mlp) on A and B: same hyper-parameters, different seeds; run 0 (512) and run 2
  # (16,384) on A. Standard recipe (ReLU + L1, λ = 3 on activations scaled to E‖x‖² = d_in), 10M tokens each.
  train_sae() { # model run d_sae seed tokens
    saekit sae train --model "models/$1" --out "models/$1/$2" --d-sae "$3" --l1 3 --lr 1e-3 --tokens "$5" --seed "$4" --resample paper \
      --checkpoint-every 500 --dtype BF16 --discard-checkpoint
    saekit sae eval --sae "models/$1/$2" --save
  }
  train_sae A 1 4096 1 10M
  train_sae B 1 4096 2 10M
  train_sae A 0 512 3 10M
  train_sae A 2 16384 4 5M
fi

if [[ $what == investigations || $what == all ]]; then
  # Over the default 1,048,576 evaluation tokens; each run is matched against the other model's run 1, and B/1's
  # store points at A/1's token file (the same tokens) instead of a copy. About 4–5 minutes each.
  saekit analyze --sae models/A/1 --compare models/B/1
  saekit analyze --sae models/B/1 --compare models/A/1
fi
