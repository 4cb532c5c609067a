#!/usr/bin/env bash
# The λ sweep of issue 12: trains one 4,096-feature SAE per L1 coefficient (standard ReLU + L1 with the AuxK
# auxiliary loss — issue 18's recipe), evaluates each on both domains, analyses each for the interpretability score,
# and prints the frontier table (L0 vs CE recovered vs score) with scripts/frontier-table.mjs.
# Usage: scripts/l1-sweep.sh MODEL_DIR ACTIVATION_CACHE OUT_DIR [TOKENS] [λ …]
#   e.g. scripts/l1-sweep.sh models/A /data/acts-A-v2 /data/sweep-A 20M 1.5 2 3 4 6
# Each step is skipped when its output exists, so rerunning the script resumes an interrupted sweep (a half-trained
# SAE resumes from its checkpoint).
set -euo pipefail
model=${1:?model folder}; cache=${2:?activation cache (saekit sae cache)}; out=${3:?output folder}
tokens=${4:-20M}; shift $(( $# < 4 ? $# : 4 ))
lambdas=("$@"); [[ ${#lambdas[@]} -gt 0 ]] || lambdas=(1.5 2 3 4 6)
corpus=${SWEEP_CORPUS:-v2}; analyze_tokens=${SWEEP_ANALYZE_TOKENS:-262144}
saekit() { node bin/saekit.js "$@"; }
mkdir -p "$out"
for l1 in "${lambdas[@]}"; do
  run="$out/l1-$l1"
  if [[ ! -f $run/sae_weights.safetensors ]]; then
    resume=(); [[ -d $run/checkpoint ]] && resume=(--resume)
    saekit sae train --model "$model" --activations "$cache" --out "$run" --d-sae 4096 --l1 "$l1" --lr 1e-3 \
      --tokens "$tokens" --seed 1 --resample none --aux-coefficient 0.03125 --checkpoint-every 500 \
      --discard-checkpoint "${resume[@]}"
  fi
  [[ -f $run/eval.json ]] || saekit sae eval --sae "$run" --model "$model" --corpus "$corpus" --save
  [[ -f $run/investigation/summary.json ]] || \
    saekit analyze --sae "$run" --model "$model" --corpus "$corpus" --tokens "$analyze_tokens" --no-neurons
done
node scripts/frontier-table.mjs "$out"/l1-*
