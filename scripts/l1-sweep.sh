#!/usr/bin/env bash
# The λ sweep of issue 12: trains one 4,096-feature SAE per L1 coefficient (standard ReLU + L1 with the AuxK
# auxiliary loss — issue 18's recipe), evaluates each on both domains, analyses each for the interpretability score,
# and prints the frontier table (L0 vs CE recovered vs score) with scripts/frontier-table.mjs.
# Usage: scripts/l1-sweep.sh MODEL_DIR ACTIVATION_CACHE OUT_DIR [TOKENS] [λ …]
#   e.g. scripts/l1-sweep.sh models/A /data/acts-A-v2 /data/sweep-A 20M 1.5 2 3 4 6
# Each step is skipped when its output exists, so rerunning the script resumes an interrupted sweep (a half-trained
# SAE resumes from its checkpoint).
# SWEEP_ARCH=topk sweeps TopK (+ AuxK) instead: the values are k (active features per token), not λ.
set -euo pipefail
model=${1:?model folder}; cache=${2:?activation cache (saekit sae cache)}; out=${3:?output folder}
tokens=${4:-20M}; shift $(( $# < 4 ? $# : 4 ))
lambdas=("$@"); [[ ${#lambdas[@]} -gt 0 ]] || lambdas=(1.5 2 3 4 6)
corpus=${SWEEP_CORPUS:-v2}; analyze_tokens=${SWEEP_ANALYZE_TOKENS:-262144}; arch=${SWEEP_ARCH:-standard}
[[ $arch == standard || $arch == topk ]] || { echo "SWEEP_ARCH must be standard or topk, got $arch" >&2; exit 2; }
saekit() { node bin/saekit.js "$@"; }
mkdir -p "$out"
for value in "${lambdas[@]}"; do
  if [[ $arch == topk ]]; then
    run="$out/topk-$value"; recipe=(--architecture topk --k "$value" --lr 5e-4)
  else
    run="$out/l1-$value"; recipe=(--l1 "$value" --lr 1e-3 --resample none --aux-coefficient 0.03125)
  fi
  if [[ ! -f $run/sae_weights.safetensors ]]; then
    resume=(); [[ -d $run/checkpoint ]] && resume=(--resume)
    saekit sae train --model "$model" --activations "$cache" --out "$run" --d-sae 4096 "${recipe[@]}" \
      --tokens "$tokens" --seed 1 --checkpoint-every 500 --discard-checkpoint "${resume[@]}"
  fi
  [[ -f $run/eval.json ]] || saekit sae eval --sae "$run" --model "$model" --corpus "$corpus" --save
  [[ -f $run/investigation/summary.json ]] || \
    saekit analyze --sae "$run" --model "$model" --corpus "$corpus" --tokens "$analyze_tokens" --no-neurons
done
shopt -s nullglob
node scripts/frontier-table.mjs "$out"/l1-* "$out"/topk-*
