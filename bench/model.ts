/**
 * Transformer throughput at the default model shape (1 layer, d_model 128, d_mlp 512, 4 heads, n_ctx 128, GPT-2
 * vocabulary): a full training step (forward, cross-entropy, backward, gradient clipping, AdamW) broken into its
 * parts, and the forward pass to `blocks.0.mlp.hook_post` without gradients, which is what SAE training consumes.
 * Random token ids stand in for text (the cost does not depend on which ids they are).
 * Runs at both precisions of the matrix products (fp32, and bf16 operands with float32 accumulation). Also the step
 * at `model train`'s default shape (2 micro-batches of 16 × 128), and at bf16 the unembedding kernel against the
 * chunked route it replaced.
 */
import { Tape, type Var } from "../src/core/autograd.js";
import { backendInfo, kernels, setPrecision } from "../src/core/backend.js";
import { chunkedUnembedCrossEntropy } from "../src/core/kernels-unembed.js";
import type { Precision } from "../src/core/kernels.js";
import { AdamW, clipGradNorm, decayMatricesOnly } from "../src/core/optim.js";
import { Rng } from "../src/core/rng.js";
import { DEFAULT_MODEL_CONFIG } from "../src/model/config.js";
import { nextTokenTargets } from "../src/model/train-data.js";
import { HookedTransformer } from "../src/model/transformer.js";
import { initWeights, parameterCount } from "../src/model/weights.js";
import { bestOf, table } from "./timing.js";

const HOOK = "blocks.0.mlp.hook_post";
/** Target of the forward-to-hook_post throughput (what keeps SAE training fed). */
const FORWARD_TARGET = 50_000;
/** Issue 11: training ≥ 3× the ~2,500 tokens/s of the fp32 step before bf16 (1,024-token steps). */
const TRAIN_BEFORE = 2_500, TRAIN_TARGET = 3 * TRAIN_BEFORE;

function randomTokens(rng: Rng, n: number, vocab: number): Int32Array {
  return Int32Array.from({ length: n }, () => rng.int(vocab));
}

export function benchModel(): void {
  const rates: Partial<Record<Precision, { train: number; evalLoss: number }>> = {};
  for (const precision of ["fp32", "bf16"] as const) {
    setPrecision(precision);
    try {
      rates[precision] = benchModelAt(precision);
    } finally {
      setPrecision("auto");
    }
  }
  const f = rates.fp32!, b = rates.bf16!;
  const n = (x: number) => Math.round(x).toLocaleString("en-US");
  console.log(`\nmodel training throughput: fp32 ${n(f.train)} tokens/s, bf16 ${n(b.train)} tokens/s (${(b.train / f.train).toFixed(2)}×); ` +
    `target ≥ ${n(TRAIN_TARGET)} (3× the ${n(TRAIN_BEFORE)} tokens/s before bf16)`);
  console.log(`evaluation loss: fp32 ${n(f.evalLoss)} tokens/s, bf16 ${n(b.evalLoss)} tokens/s (${(b.evalLoss / f.evalLoss).toFixed(2)}×)`);
}

function benchModelAt(precision: Precision): { train: number; evalLoss: number } {
  const cfg = { ...DEFAULT_MODEL_CONFIG };
  const info = backendInfo();
  console.log(
    `\n# model — ${parameterCount(cfg).toLocaleString("en-US")} parameters, backend ${info.name} (${info.isa}, ${info.threads} threads), ` +
      `${precision} products${precision === "bf16" ? ` (${info.bf16Path})` : ""}`,
  );
  const rng = new Rng(1);
  const model = new HookedTransformer(cfg, initWeights(cfg, rng));
  const params = model.parameterList();
  const optimizer = new AdamW(model.params, { weightDecay: 0.1, decay: decayMatricesOnly });
  const nCtx = cfg.n_ctx;

  // ---- one training step, part by part (best of 5 after a warm-up)
  const batch = 8;
  const tokens = randomTokens(rng, batch * nCtx, cfg.d_vocab);
  const targets = nextTokenTargets(tokens, nCtx);
  const fusedLoss = (t: Tape) => model.forwardLoss(t, tokens, batch, nCtx, targets).loss;
  // The unfused path: full [tokens, d_vocab] logits, log-softmax, cross-entropy (kept to show what fusing buys).
  const unfusedLoss = (t: Tape) => t.crossEntropy(model.forward(t, tokens, batch, nCtx).logits!, targets);
  const timeStep = (lossOf: (t: Tape) => Var) => {
    let tape = new Tape();
    let loss = lossOf(tape);
    const forwardMs = bestOf(5, () => {
      tape.release();
      tape = new Tape();
      loss = lossOf(tape);
    });
    // The rest of backward is tiny next to the fused loss; timing noise must not make it negative.
    const backwardMs = Math.max(0, bestOf(5, () => {
      tape = new Tape();
      loss = lossOf(tape);
      tape.backward(loss);
    }) - forwardMs);
    optimizer.zeroGrad();
    return { forwardMs, backwardMs };
  };
  const fused = timeStep(fusedLoss);
  const unfused = timeStep(unfusedLoss);
  const clipMs = bestOf(5, () => clipGradNorm(params, 1));
  const adamMs = bestOf(5, () => optimizer.step(1e-4));
  const zeroMs = bestOf(5, () => optimizer.zeroGrad());
  const stepMs = bestOf(3, () => {
    const t = new Tape();
    t.backward(fusedLoss(t));
    clipGradNorm(params, 1);
    optimizer.step(1e-4);
    optimizer.zeroGrad();
  });
  const evalMs = bestOf(5, () => fusedLoss(Tape.noGrad()));
  const perStep = batch * nCtx;
  const rate = (ms: number, n = perStep) => Math.round(n / (ms / 1000)).toLocaleString("en-US");
  const share = (ms: number) => `${((100 * ms) / stepMs).toFixed(0)}%`;
  console.log(`training step, batch ${batch} × ${nCtx} = ${perStep} tokens (fused unembedding + cross-entropy)`);
  console.log(table(["part", "ms", "share of step"], [
    ["forward + loss (+ unembedding gradients, fused)", fused.forwardMs.toFixed(1), share(fused.forwardMs)],
    ["backward (rest of the model)", fused.backwardMs.toFixed(1), share(fused.backwardMs)],
    ["clipGradNorm", clipMs.toFixed(1), share(clipMs)],
    ["AdamW step", adamMs.toFixed(1), share(adamMs)],
    ["zeroGrad", zeroMs.toFixed(2), share(zeroMs)],
    ["whole step", stepMs.toFixed(1), "100%"],
  ]));
  const unfusedMs = unfused.forwardMs + unfused.backwardMs;
  const fusedMs = fused.forwardMs + fused.backwardMs;
  console.log(
    `forward + backward: fused ${fusedMs.toFixed(1)} ms vs unfused (full logits) ${unfusedMs.toFixed(1)} ms → ` +
      `${(unfusedMs / fusedMs).toFixed(2)}× faster`,
  );
  console.log(`training throughput: ${rate(stepMs)} tokens/s (forward + backward + clip + AdamW)`);

  // ---- the step as `saekit model train` runs it by default: 16 sequences per micro-batch, 2 micro-batches per step
  const trainBatch = 16, accum = 2;
  const microTokens = Array.from({ length: accum }, () => randomTokens(rng, trainBatch * nCtx, cfg.d_vocab));
  const microTargets = microTokens.map((t) => nextTokenTargets(t, nCtx));
  const trainStepMs = bestOf(3, () => {
    for (let i = 0; i < accum; i++) {
      const t = new Tape();
      const { loss } = model.forwardLoss(t, microTokens[i]!, trainBatch, nCtx, microTargets[i]!);
      t.backward(t.scale(loss, 1 / accum));
    }
    clipGradNorm(params, 1);
    optimizer.step(1e-4);
    optimizer.zeroGrad();
  });
  const trainTokens = trainBatch * nCtx * accum;
  console.log(
    `training step as model train runs it (${accum} micro-batches of ${trainBatch} × ${nCtx}, ${trainTokens} tokens): ` +
      `${trainStepMs.toFixed(0)} ms, ${rate(trainStepMs, trainTokens)} tokens/s`,
  );
  if (precision === "bf16") benchUnembedding(cfg.d_model, cfg.d_vocab, trainBatch * nCtx, rng);
  console.log(`evaluation loss (no-grad forward + fused loss): ${rate(evalMs)} tokens/s`);

  // ---- forward to hook_post, no gradients
  const rows: string[][] = [];
  for (const b of [8, 32]) {
    const ids = randomTokens(rng, b * nCtx, cfg.d_vocab);
    const ms = bestOf(5, () => {
      model.forward(Tape.noGrad(), ids, b, nCtx, { stopAt: HOOK, cache: [HOOK] });
    });
    rows.push([`${b} × ${nCtx}`, ms.toFixed(1), rate(ms, b * nCtx)]);
  }
  const fullMs = bestOf(5, () => model.forward(Tape.noGrad(), tokens, batch, nCtx));
  rows.push([`${batch} × ${nCtx}, full forward to logits`, fullMs.toFixed(1), rate(fullMs)]);
  console.log(`\nforward to ${HOOK} (stopAt, no-grad tape), target ≥ ${FORWARD_TARGET.toLocaleString("en-US")} tokens/s`);
  console.log(table(["batch", "ms", "tokens/s"], rows));
  return { train: perStep / (stepMs / 1000), evalLoss: perStep / (evalMs / 1000) };
}

/**
 * The unembedding + cross-entropy with its gradients for one training micro-batch, the kernel (native bf16: fused,
 * logits tiled in cache) against the chunked route (gemm, softmax, two gemms per 256 rows) it replaced — same
 * process, alternating, best of 3 each, so a busy machine slows both alike.
 */
function benchUnembedding(d: number, vocab: number, rows: number, rng: Rng): void {
  const k = kernels();
  const x = Float32Array.from({ length: rows * d }, () => rng.normal());
  const w = Float32Array.from({ length: d * vocab }, () => 0.02 * rng.normal());
  const bias = new Float32Array(vocab);
  const targets = randomTokens(rng, rows, vocab);
  const args = {
    x, rows, d, w, vocab, bias, targets, ignoreIndex: -1, gradScale: 1 / rows, nll: new Float32Array(rows),
    dX: new Float32Array(rows * d), dW: new Float32Array(d * vocab), dB: new Float32Array(vocab),
  };
  const best = { kernel: Infinity, chunked: Infinity };
  for (let i = 0; i < 4; i++) {
    let t0 = performance.now();
    k.unembedCrossEntropy(args);
    if (i > 0) best.kernel = Math.min(best.kernel, performance.now() - t0);
    t0 = performance.now();
    chunkedUnembedCrossEntropy(k, args);
    if (i > 0) best.chunked = Math.min(best.chunked, performance.now() - t0);
  }
  const gflop = (3 * 2 * rows * d * vocab) / 1e9;
  console.log(
    `unembedding + cross-entropy + gradients, ${rows} rows × ${vocab.toLocaleString("en-US")} (${gflop.toFixed(0)} GFLOP of products): ` +
      `kernel ${best.kernel.toFixed(0)} ms vs chunked route ${best.chunked.toFixed(0)} ms → ${(best.chunked / best.kernel).toFixed(2)}×`,
  );
}
