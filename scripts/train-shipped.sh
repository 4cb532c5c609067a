#!/usr/bin/env bash
# Reproduces everything under models/: the two transformers A and B (same recipe, seeds 1 and 2) on corpus v2, an
# activation cache of each model's hook_post over v2's train split, their SAE runs trained from those caches, and
# the investigations `saekit demo` serves (each folder's README.md gives the figures this produced and the host).
#   A/0 (512), A/1 and B/1 (4,096), A/2 (16,384): the paper's recipe, ReLU + L1 (A/0, A/1, B/1 with AuxK armed on
#   features below density 1e-4; A/2 without);
#   A/1t (4,096): TopK k = 24 (with AuxK), the recipe that met every target of the 20M-token frontier.
# Usage: scripts/train-shipped.sh [models|caches|saes|investigations|cards|all] [A|B]   (from the repository root after `npm ci`)
#   the optional A or B limits models, caches and saes to that model (e.g. A's SAEs while B still trains)
#   SAEKIT_SHIP_DIR  where the folders go (default models)
#   SAEKIT_ACTS_DIR  where the activation caches go (default ~/.cache/saekit/acts; ≈ 18 GB each, BF16)
# Every step is skipped when its output exists and resumes from its checkpoint when one was left, so rerunning the
# script after an interruption continues it (the whole run is ≈ 10 h on the 2-core Zen 5 VM).
set -euo pipefail
what=${1:-all}; only=${2:-}
out=${SAEKIT_SHIP_DIR:-models}
acts=${SAEKIT_ACTS_DIR:-$HOME/.cache/saekit/acts}
# λ (L1 coefficient on activations scaled to E‖x‖² = d_in) and TopK's k, chosen from the 20M-token frontier of
# scripts/l1-sweep.sh (models/README.md has the table).
l1=${SAEKIT_L1:-2}
topk=24
saekit() { node bin/saekit.js "$@"; }
resume() { [[ -d $1/checkpoint ]] && echo --resume || true; }
usage() { echo "usage: $0 [models|caches|saes|investigations|cards|all] [A|B]" >&2; exit 2; }
case $what in models|caches|saes|investigations|cards|all) ;; *) usage;; esac
case $only in ''|A|B) ;; *) usage;; esac
wanted() { [[ -z $only || $only == "$1" ]]; }

if [[ $what == models || $what == all ]]; then
  # 32M tokens = 7,813 steps of 4,096 tokens (batch 16 × 128 × 2 accumulated), 1.8 epochs of v2's 17.8M train tokens.
  for pair in A:1 B:2; do
    name=${pair%%:*}; seed=${pair##*:}
    wanted "$name" && [[ ! -f $out/$name/model.safetensors ]] || continue
    saekit model train --out "$out/$name" --seed "$seed" --corpus v2 --tokens 32M --batch 16 --accum 2 --lr 2e-3 --warmup 200 \
      --eval-every 500 --checkpoint-every 200 --dtype BF16 $(resume "$out/$name")
  done
fi

if [[ $what == caches || $what == all ]]; then
  # hook_post of every train-split token of v2 (17.8M rows), read by `sae train --activations` in shuffled epochs.
  for pair in A:1 B:2; do
    name=${pair%%:*}; seed=${pair##*:}
    wanted "$name" && [[ ! -f $acts/$name/manifest.json ]] || continue
    rm -rf "${acts:?}/$name"
    saekit sae cache --corpus v2 --model "$out/$name" --out "$acts/$name" --tokens 17.8M --seed "$seed" --dtype BF16
  done
fi

if [[ $what == saes || $what == all ]]; then
  # The standard recipe (ReLU + L1) with the AuxK auxiliary loss on features below density 1e-4 (issue 18), no
  # resampling; TopK with AuxK on dead features (sae train's default α 1/32). Checkpoints every 500 steps (2M tokens), dropped when the run is done.
  train_sae() { # model run d_sae seed tokens recipe…
    local run=$out/$1/$2
    wanted "$1" || return 0
    if [[ ! -f $run/sae_weights.safetensors ]]; then
      saekit sae train --model "$out/$1" --activations "$acts/$1" --out "$run" --d-sae "$3" --seed "$4" --tokens "$5" "${@:6}" \
        --checkpoint-every 500 --dtype BF16 --discard-checkpoint $(resume "$run")
    fi
    [[ -f $run/eval.json ]] || saekit sae eval --sae "$run" --corpus v2 --save
  }
  relu=(--l1 "$l1" --lr 1e-3 --resample none --aux-coefficient 0.03125)
  # A/2 without AuxK: at 16,384 features with AuxK, features started dying once the first few fell below 1e-4
  # (step ≈ 4,750 of 12,208): 0 dead at step 5,000, 29 % at step 7,000, rising (issue 18's note, 2026-12-02).
  relu_no_aux=(--l1 "$l1" --lr 1e-3 --resample none --aux-coefficient 0)
  train_sae A 1 4096 1 100M "${relu[@]}"
  train_sae B 1 4096 2 100M "${relu[@]}"
  train_sae A 1t 4096 1 100M --architecture topk --k "$topk" --lr 5e-4
  train_sae A 0 512 3 100M "${relu[@]}"
  train_sae A 2 16384 4 50M "${relu_no_aux[@]}"
fi

if [[ $what == investigations || $what == all ]]; then
  # Over the default 1,048,576 evaluation tokens. A/1 is matched against B/1, linked to A/0 and A/2 as families and
  # carries the atlas of all three; B/1 is matched against A/1; A/1t against A/1 (same model, other recipe). A/1 and
  # B/1 also write their model's neuron store. A/0 and A/2 are linked to A/1.
  analyzed() { [[ -f $1/investigation/summary.json ]]; }
  analyzed "$out/A/1" || saekit analyze --sae "$out/A/1" --corpus v2 --compare "$out/B/1" --family "$out/A/0" "$out/A/2" --atlas
  analyzed "$out/B/1" || saekit analyze --sae "$out/B/1" --corpus v2 --compare "$out/A/1"
  analyzed "$out/A/1t" || saekit analyze --sae "$out/A/1t" --corpus v2 --compare "$out/A/1" --no-neurons
  analyzed "$out/A/0" || saekit analyze --sae "$out/A/0" --corpus v2 --family "$out/A/1" --no-neurons
  analyzed "$out/A/2" || saekit analyze --sae "$out/A/2" --corpus v2 --family "$out/A/1" --no-neurons
fi

if [[ $what == cards || $what == all ]]; then
  # Each folder's README.md from its training.json, eval.json and investigation/summary.json.
  for pair in A:1 B:2; do
    name=${pair%%:*}
    wanted "$name" || continue
    node scripts/model-card.mjs "$out/$name" "scripts/train-shipped.sh models $name   # seed ${pair##*:}"
    for run in "$out/$name"/*/; do
      run=${run%/}
      [[ -f $run/cfg.json ]] || continue
      node scripts/sae-card.mjs "$run" "scripts/train-shipped.sh caches $name && scripts/train-shipped.sh saes $name   # trains ${run##*/} among $name's runs"
    done
  done
fi
