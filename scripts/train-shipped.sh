#!/usr/bin/env bash
# Reproduces everything under models/: the two transformers A and B (same recipe, seeds 1 and 2) and their SAE
# runs (see each folder's README.md for the figures this produced on a 2-core Zen 5 machine).
# Usage: scripts/train-shipped.sh [models|saes|all]   (run from the repository root after `npm ci`)
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
