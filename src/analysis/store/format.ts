/**
 * The investigation store: what `saekit analyze` computes, in a folder the dashboards read without recomputing.
 *
 * Compact files rather than a database: the data is written once and then only read by unit index, so a table of
 * offsets plus one compressed blob per unit gives a single positional read + inflate (well under 1 ms) per unit,
 * with no native dependency to build; every file is plain JSON, gzip or safetensors, so Python can read it too.
 *
 * Folder `investigation/` (inside the SAE folder for features, the model folder for neurons), format version 1:
 *   manifest.json        InvestigationManifest (written last: a folder without it is incomplete)
 *   units.bin            unit records one after another (encodeRecord: JSON + binary examples), each raw-deflate'd with the preset
 *                        dictionary dictionary.bin (Python: zlib.decompressobj(-15, zdict=dictionary)), so every
 *                        record decompresses alone yet shares the redundancy of its neighbours
 *   dictionary.bin       ≤ 32 KiB of sample records, the deflate preset dictionary
 *   index.safetensors    `offsets` I64 [units + 1] into units.bin, plus the UnitColumns (F32 / I32 [units])
 *   search.json.gz       UnitSearchEntry per unit (labels, top tokens, top/bottom logit tokens), gzip'd JSON
 *   tokens.gz            the evaluation tokens that examples point into, [sequences × seqLen] little-endian
 *                        uint16 (int32 when the vocabulary exceeds 65,536; manifest.tokenDtype), gzip'd. A store
 *                        over the same tokens as another (a model's neurons and its SAE runs, two runs compared)
 *                        may point at that store's file instead (manifest.tokensFile, checked by tokensSha256).
 * manifest.checksums holds the SHA-256 of each of the store's own files (units.bin, dictionary.bin,
 * index.safetensors, search.json.gz and tokens.gz when it has one); the reader checks them and the offsets,
 * lengths and column sizes when it opens a store, so a damaged file is reported as such, by name. Stores written
 * before checksums existed (no manifest.checksums) get the structural checks only.
 * The whole folder is built under a temporary name and renamed into place, so a reader never sees half a store.
 *
 * This module holds the names, the record types and their encoding; writer.ts, reader.ts, search.ts and
 * assemble.ts (records and manifests from the analysis' results) build on it.
 */
import { float16BitsToFloat32, float32ToFloat16Bits } from "../../io/safetensors.js";
import type { StoredProxyBins } from "../proxy-stats.js";

export { INVESTIGATION_DIR } from "../../sae/run-folder.js";
export const INVESTIGATION_FORMAT = "saekit-investigation";
export const INVESTIGATION_VERSION = 1;

/**
 * The files whose SHA-256 manifest.checksums records (tokens.gz only when the store has its own; family.safetensors
 * only when analysed with --family: analysis/family-store.ts; atlas.safetensors only with --atlas: analysis/atlas-store.ts).
 */
export const CHECKSUMMED_FILES = ["units.bin", "dictionary.bin", "index.safetensors", "search.json.gz", "tokens.gz", "family.safetensors", "atlas.safetensors"] as const;

export class InvestigationStoreError extends Error {
  override name = "InvestigationStoreError";
}

/**
 * A firing token inside an example window: offset from the example position, activation, Δlog-prob (or null).
 * On disk the activation is quantised to 0…255 of the unit's max (plenty for shading and hover values, and it
 * compresses far better than floats); the example token's own activation (StoredExample.a) is kept exact.
 */
export type StoredWindowToken = [offset: number, activation: number, logprobDelta: number | null];

export interface StoredExample {
  s: number;
  p: number;
  a: number;
  /** Firing tokens of the window (every other window token has activation 0 and Δlog-prob 0). */
  w: StoredWindowToken[];
}

/**
 * The proxy as stored: per-bin columns only (bin edges come from the unit's max, bin counts are the histogram's, as
 * both use feature-stats' binning).
 */
export interface StoredProxy extends StoredProxyBins {
  /** Absent for the automatic proxy (the top-activating token set): rebuilt on read from the top examples. */
  spec?: string;
  description?: string;
}

/** The automatic proxy's naming lives with the proxies (proxy.ts); re-exported for the store's reader. */
export { autoProxySpec, rankTopTokens } from "../proxy.js";

/** What units.bin holds per unit: the record without names, texts or window tokens (rebuilt on read). */
export interface StoredUnit {
  label: string;
  firing: number;
  max: number;
  mean: number;
  hist: number[];
  top: StoredExample[];
  intervals: { lo: number; hi: number; fraction: number; examples: StoredExample[] }[];
  /** Logit weights: [token, weight] lists and the histogram as its range and counts (equal-width bins). */
  logits: { top: [number, number][]; bottom: [number, number][]; range: [number, number]; counts: number[]; mean: number; std: number };
  /** se: the mean's standard error (ablation.ts stratifiedMean; null with too few samples), absent in older stores. */
  ablation: { meanLossEffect: number | null; sampled: number; se?: number | null };
  proxy: StoredProxy | null;
  neurons: { alignment: [neuron: number, value: number, fractionOfL1: number, cosine: number][]; correlated: [neuron: number, r: number][] } | null;
  /** Compared run name → [index, r, logitR]. */
  matches: Record<string, [number, number, number | null]>;
  /** Related units (related-units.ts); absent in older stores. */
  related?: StoredRelated;
  /** Interpretability (interpretability.ts): [score, spec, sens, proxy spec]; null for a dead unit, absent in older stores. */
  interp?: [score: number, spec: number, sens: number, proxy: string] | null;
  /** Share of the activation mass on code tokens (domain-share.ts); null for a dead unit, absent in older stores. */
  codeShare?: number | null;
}

/**
 * m: per compared run, the unit's top matches there [index, r, that unit's best match back here, its r];
 * co: features of the same SAE with the highest activation r; f (neuron stores): the features that correlate most
 * with the neuron, [feature, r].
 */
export interface StoredRelated {
  m?: Record<string, [index: number, r: number, reverse: number, reverseR: number][]>;
  co?: [index: number, r: number][];
  f?: [feature: number, r: number][];
}

/** Rounds to `digits` significant digits: enough for every figure shown, and it halves the compressed size. */
export function roundTo(v: number, digits: number): number {
  if (!Number.isFinite(v) || v === 0) return v;
  return Number(v.toPrecision(digits));
}

/** 4 significant digits (the precision of every stored figure outside example windows). */
export const round4 = (v: number): number => roundTo(v, 4);
const r4 = round4;
const r3 = (v: number) => roundTo(v, 3);
const r4n = (v: number | null) => (v === null ? null : r4(v));

function compactExample(e: StoredExample, max: number): StoredExample {
  const q = (a: number) => (max > 0 ? Math.min(255, Math.max(0, Math.round((255 * a) / max))) : 0);
  return { s: e.s, p: e.p, a: r4(e.a), w: e.w.map(([o, a, d]) => [o, q(a), d === null ? null : r3(d)]) };
}

/**
 * A record before deflate: [u32 LE length of the JSON][JSON of the unit with every example list replaced by its
 * length][the examples, binary, top first then each interval's]. One example: sequence u32, position u16,
 * activation f16, window entries u8, then per entry offset i8, activation q u8 (÷255 × the unit's max),
 * Δlog-prob f16 (NaN = null); all little-endian. Binary examples are half the size of JSON ones once deflated.
 */
export function encodeRecord(u: StoredUnit): Buffer {
  const lists = [u.top, ...u.intervals.map((iv) => iv.examples)];
  const json = Buffer.from(
    JSON.stringify({ ...u, top: u.top.length, intervals: u.intervals.map((iv) => ({ ...iv, examples: iv.examples.length })) }),
  );
  let size = 4 + json.length;
  for (const list of lists) for (const e of list) size += 9 + 4 * e.w.length;
  const buf = Buffer.alloc(size);
  buf.writeUInt32LE(json.length, 0);
  json.copy(buf, 4);
  let at = 4 + json.length;
  for (const list of lists) {
    for (const e of list) {
      buf.writeUInt32LE(e.s, at);
      buf.writeUInt16LE(e.p, at + 4);
      buf.writeUInt16LE(float32ToFloat16Bits(e.a), at + 6);
      buf.writeUInt8(e.w.length, at + 8);
      at += 9;
      for (const [o, q, d] of e.w) {
        buf.writeInt8(o, at);
        buf.writeUInt8(q, at + 1);
        buf.writeUInt16LE(d === null ? 0x7e00 : float32ToFloat16Bits(d), at + 2);
        at += 4;
      }
    }
  }
  return buf;
}

export function decodeRecord(buf: Buffer): StoredUnit {
  const n = buf.readUInt32LE(0);
  const u = JSON.parse(buf.toString("utf8", 4, 4 + n)) as Omit<StoredUnit, "top" | "intervals"> & {
    top: number;
    intervals: { lo: number; hi: number; fraction: number; examples: number }[];
  };
  let at = 4 + n;
  const read = (count: number): StoredExample[] => {
    const out: StoredExample[] = [];
    for (let i = 0; i < count; i++) {
      const e: StoredExample = { s: buf.readUInt32LE(at), p: buf.readUInt16LE(at + 4), a: float16BitsToFloat32(buf.readUInt16LE(at + 6)), w: [] };
      const k = buf.readUInt8(at + 8);
      at += 9;
      for (let j = 0; j < k; j++) {
        const d = float16BitsToFloat32(buf.readUInt16LE(at + 2));
        e.w.push([buf.readInt8(at), buf.readUInt8(at + 1), Number.isNaN(d) ? null : d]);
        at += 4;
      }
      out.push(e);
    }
    return out;
  };
  const top = read(u.top);
  const intervals = u.intervals.map((iv) => ({ ...iv, examples: read(iv.examples) }));
  return { ...u, top, intervals };
}

function compactRelated(r: StoredRelated): StoredRelated {
  const pairs = (l: [number, number][]) => l.map(([i, v]): [number, number] => [i, r4(v)]);
  return {
    ...(r.m ? { m: Object.fromEntries(Object.entries(r.m).map(([k, l]) => [k, l.map(([i, v, j, w]): [number, number, number, number] => [i, r4(v), j, r4(w)])])) } : {}),
    ...(r.co ? { co: pairs(r.co) } : {}),
    ...(r.f ? { f: pairs(r.f) } : {}),
  };
}

/** Rounds the floats (4 significant digits; 3 inside example windows), leaving ids, positions and counts exact. */
export function compactUnit(u: StoredUnit): StoredUnit {
  return {
    label: u.label,
    firing: u.firing,
    max: r4(u.max),
    mean: r4(u.mean),
    hist: u.hist,
    top: u.top.map((e) => compactExample(e, u.max)),
    intervals: u.intervals.map((iv) => ({ lo: r4(iv.lo), hi: r4(iv.hi), fraction: r4(iv.fraction), examples: iv.examples.map((e) => compactExample(e, u.max)) })),
    logits: {
      top: u.logits.top.map(([t, w]) => [t, r4(w)]),
      bottom: u.logits.bottom.map(([t, w]) => [t, r4(w)]),
      range: [r4(u.logits.range[0]), r4(u.logits.range[1])],
      counts: u.logits.counts,
      mean: r4(u.logits.mean),
      std: r4(u.logits.std),
    },
    ablation: { meanLossEffect: r4n(u.ablation.meanLossEffect), sampled: u.ablation.sampled, ...(u.ablation.se !== undefined ? { se: r4n(u.ablation.se) } : {}) },
    ...(u.related ? { related: compactRelated(u.related) } : {}),
    ...(u.interp !== undefined ? { interp: u.interp && [r4(u.interp[0]), r4(u.interp[1]), r4(u.interp[2]), u.interp[3]] } : {}),
    ...(u.codeShare !== undefined ? { codeShare: u.codeShare === null ? null : r4(u.codeShare) } : {}),
    proxy: u.proxy && {
      ...u.proxy,
      specificity: r4(u.proxy.specificity),
      specificityFiring: r4(u.proxy.specificityFiring),
      sensitivity: r4(u.proxy.sensitivity),
      proxyCount: u.proxy.proxyCount.map(r4),
      massShare: u.proxy.massShare.map((v) => (v === null ? null : r3(v))),
      llr: u.proxy.llr.map((v) => (v === null ? null : r3(v))),
    },
    neurons: u.neurons && {
      alignment: u.neurons.alignment.map(([n, v, f, c]) => [n, r4(v), r4(f), r4(c)]),
      correlated: u.neurons.correlated.map(([n, r]) => [n, r4(r)]),
    },
    matches: Object.fromEntries(Object.entries(u.matches).map(([k, [i, r, lr]]) => [k, [i, r4(r), r4n(lr)]])),
  };
}


/** Token ids fit in uint16 for vocabularies up to 65,536 (GPT-2's 50,257 does). */
export function tokenDtype(vocabSize: number): "U16" | "I32" {
  return vocabSize <= 65536 ? "U16" : "I32";
}

export type { TokenTexts } from "../proxy.js";
