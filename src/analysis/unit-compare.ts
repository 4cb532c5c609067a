/**
 * Two units side by side (the dashboards' comparison scatter plots): their activations on a sample of the first
 * unit's evaluation tokens, and their logit weights over the (shared) vocabulary, each pair with Pearson r
 * (correlation.ts' convention: NaN when a side is constant). Units may belong to two models with one tokenizer.
 */
import { Tape } from "../core/autograd.js";
import { lastMlpHook, unembed } from "../model/readout.js";
import { UnitNameError } from "../names.js";
import { pearson } from "./correlation.js";
import { UnavailableError } from "./errors.js";
import { unitActivation } from "./live-proxy.js";
import { logitWeights, type LogitWeightOptions } from "./logit-weights.js";
import type { InvestigationStore } from "./store.js";
import type { UnitSetEntry } from "./unit-sets.js";
import type { WorkspaceLoader } from "./workspace-loader.js";

/** Logit weights as analyze computes them (centred, ln_final.w folded: logit-weights.ts), so the numbers agree. */
export const LOGIT_WEIGHT_OPTIONS: LogitWeightOptions = { centre: true };

/** Evaluation tokens a comparison reads (whole sequences, spread over the domains). */
export const COMPARE_TOKENS = 4096;
export const COMPARE_MAX_SEQUENCES = 32;

export interface ResolvedUnit {
  set: UnitSetEntry;
  index: number;
}

export interface UnitComparison {
  /** Activations of a and b on the same sample tokens, and their r. */
  activations: { a: Float32Array; b: Float32Array; r: number };
  /** Logit weights of a and b over the vocabulary, and their r. */
  logits: { a: Float32Array; b: Float32Array; r: number };
}

/** Sequences of a store used for comparisons: evenly spread within each domain, about COMPARE_TOKENS tokens. */
export function sampleSequences(store: InvestigationStore): number[] {
  const m = store.manifest;
  const want = Math.max(1, Math.min(COMPARE_MAX_SEQUENCES, Math.ceil(COMPARE_TOKENS / m.seqLen), m.sequences));
  const domains = m.domains.length > 0 ? m.domains : [{ domain: "all", firstSequence: 0, sequences: m.sequences }];
  const out: number[] = [];
  domains.forEach((d, i) => {
    const share = Math.floor(want / domains.length) + (i < want % domains.length ? 1 : 0);
    const k = Math.min(share, d.sequences);
    for (let j = 0; j < k; j++) out.push(d.firstSequence + Math.floor((j * d.sequences) / k));
  });
  return out;
}

/** Hook activations [rows, width] of a set's model on the sample sequences of `source` (cached by the loader). */
function hookActivations(loader: WorkspaceLoader, set: UnitSetEntry, source: UnitSetEntry): { data: Float32Array; rows: number; width: number } {
  const hook = set.manifest.hook;
  const inv = loader.store(source);
  const seqs = sampleSequences(inv);
  const net = loader.model(set.model, hook);
  const seqLen = Math.min(inv.manifest.seqLen, net.cfg.n_ctx);
  const key = `${set.model.name}\u0000${hook}\u0000${inv.dir}`;
  let data = loader.activations.get(key);
  if (!data) {
    const tokens = new Int32Array(seqs.length * seqLen);
    seqs.forEach((s, i) => tokens.set(inv.sequence(s).subarray(0, seqLen), i * seqLen));
    for (const t of tokens) {
      if (t >= net.cfg.d_vocab) throw new UnavailableError(`model ${set.model.name}'s vocabulary (${net.cfg.d_vocab}) does not cover ${source.name}'s evaluation tokens`);
    }
    const { cache } = net.forward(Tape.noGrad(), tokens, seqs.length, seqLen, { cache: [hook], stopAt: hook });
    data = Float32Array.from(cache.get(hook)!.data);
    loader.activations.set(key, data);
  }
  const rows = seqs.length * seqLen;
  return { data, rows, width: data.length / rows };
}

/** One unit's activations on the comparison sample of `source`'s evaluation tokens. */
function unitActivations(loader: WorkspaceLoader, u: ResolvedUnit, source: UnitSetEntry): Float32Array {
  const { data, rows, width } = hookActivations(loader, u.set, source);
  const hook = u.set.manifest.hook;
  const sae = u.set.kind === "feature" ? loader.sae(u.set).sae : null;
  if (sae && sae.dIn !== width) throw new UnavailableError(`${u.set.name}: the SAE reads ${sae.dIn} values per token but ${hook} has ${width}`);
  return unitActivation({ model: loader.model(u.set.model, hook), sae, hook, index: u.index }, data, rows);
}

/** The unit's logit weights over the whole vocabulary (its output direction through ln_final and W_U). */
function unitLogitWeights(loader: WorkspaceLoader, u: ResolvedUnit): Float32Array {
  const hook = u.set.manifest.hook;
  const net = loader.model(u.set.model, hook);
  if (hook !== lastMlpHook(net)) {
    throw new UnavailableError(`${u.set.name}: logit weights need units on the last MLP's activations (${lastMlpHook(net)}), not ${hook}`);
  }
  const un = unembed(net);
  const d = un.dModel;
  const dir = loader.outputDirections(u.set).subarray(u.index * d, (u.index + 1) * d);
  return logitWeights(dir, 1, d, un.wU, un.dVocab, un.lnW, LOGIT_WEIGHT_OPTIONS);
}

/** Activations and logit weights of two units (UnitNameError when their vocabularies differ). */
export function compareUnits(loader: WorkspaceLoader, a: ResolvedUnit, b: ResolvedUnit, names: [string, string]): UnitComparison {
  const [ma, mb] = [a.set.model, b.set.model];
  if (ma !== mb && ma.cfg && mb.cfg && (ma.cfg.tokenizer_name !== mb.cfg.tokenizer_name || ma.cfg.d_vocab !== mb.cfg.d_vocab)) {
    throw new UnitNameError(
      `${names[0]} and ${names[1]} belong to models with different vocabularies (${ma.cfg.tokenizer_name}/${ma.cfg.d_vocab} vs ${mb.cfg.tokenizer_name}/${mb.cfg.d_vocab}); they cannot be compared token by token`,
    );
  }
  const xa = unitActivations(loader, a, a.set);
  const xb = unitActivations(loader, b, a.set);
  const la = unitLogitWeights(loader, a);
  const lb = unitLogitWeights(loader, b);
  if (la.length !== lb.length) throw new UnitNameError(`${names[0]} has ${la.length} logit weights but ${names[1]} has ${lb.length}: different vocabularies`);
  return { activations: { a: xa, b: xb, r: pearson(xa, xb) }, logits: { a: la, b: lb, r: pearson(la, lb) } };
}
