/**
 * One unit against the user's proxy (`saekit investigate A/1/3450 --proxy script:Arabic`): the stored
 * investigation supplies everything else; the proxy needs the unit's activation and the proxy's score on every
 * evaluation token, so this streams the store's tokens through the model once, computing only that one unit
 * (Sae.featureActivation: a single encoder row for a standard SAE; a column of the hook for a neuron).
 */
import { Tape } from "../core/autograd.js";
import type { HookedTransformer } from "../model/transformer.js";
import type { Sae } from "../sae/sae.js";
import type { ProxyReport } from "./unit-record.js";
import type { Proxy } from "./proxy.js";
import { ProxyTokenStats, proxyReport } from "./proxy-stats.js";
import type { InvestigationStore } from "./store.js";

export interface LiveUnit {
  model: HookedTransformer;
  hook: string;
  /** The SAE for a feature, null for a neuron. */
  sae: Sae | null;
  index: number;
}

/** The unit's activation at every row of the hook activations x [rows × d_in]. */
export function unitActivation(u: LiveUnit, x: Float32Array, rows: number): Float32Array {
  if (u.sae !== null) return u.sae.featureActivation(x, rows, u.index);
  const d = u.model.cfg.d_mlp;
  const out = new Float32Array(rows);
  for (let r = 0; r < rows; r++) out[r] = x[r * d + u.index]!;
  return out;
}

export async function liveProxyReport(
  unit: LiveUnit, store: InvestigationStore, proxy: Proxy,
  options: { batchSequences?: number; onProgress?: (done: number, total: number) => void } = {},
): Promise<ProxyReport> {
  const m = store.manifest;
  const L = m.seqLen;
  const B = options.batchSequences ?? 32;
  const stats = new ProxyTokenStats(unit.model.cfg.d_vocab);
  const acts: number[] = [];
  const scores: number[] = [];
  const ids: number[] = [];
  const seqScores = new Float32Array(L);
  const tokens = new Int32Array(B * L);
  for (let s = 0; s < m.sequences; s += B) {
    const n = Math.min(B, m.sequences - s);
    for (let i = 0; i < n; i++) tokens.set(store.sequence(s + i), i * L);
    const batch = tokens.subarray(0, n * L);
    const { cache } = unit.model.forward(Tape.noGrad(), batch, n, L, { stopAt: unit.hook, cache: [unit.hook] });
    const a = unitActivation(unit, cache.get(unit.hook)!.value.data as Float32Array, n * L);
    for (let i = 0; i < n; i++) {
      const seq = batch.subarray(i * L, (i + 1) * L);
      proxy.scoreSequence(seq, seqScores);
      stats.add(seq, seqScores);
      for (let p = 0; p < L; p++) {
        const v = a[i * L + p]!;
        if (v > 0) {
          acts.push(v);
          scores.push(seqScores[p]!);
          ids.push(seq[p]!);
        }
      }
    }
    options.onProgress?.((s + n) * L, m.sequences * L);
    await new Promise((r) => setImmediate(r));
  }
  const llrTable = stats.llr();
  const activations = Float32Array.from(acts);
  let max = 0;
  for (const v of activations) if (v > max) max = v;
  return proxyReport({
    spec: proxy.spec,
    description: proxy.description,
    activations,
    scores: Float32Array.from(scores),
    llr: Float32Array.from(ids, (id) => llrTable[id]!),
    max,
    bins: m.options.histogramBins,
    proxyTokens: stats.proxyTokens,
  });
}
