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
 * The whole folder is built under a temporary name and renamed into place, so a reader never sees half a store.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { fsyncDirectorySync } from "../io/atomic.js";
import {
  float16BitsToFloat32,
  float32ToFloat16Bits,
  openSafetensors,
  saveSafetensors,
  type SafetensorsTensorToSave,
} from "../io/safetensors.js";
import type {
  Example,
  InvestigationManifest,
  UnitColumns,
  UnitRecord,
  UnitSearchEntry,
} from "./investigation.js";

export const INVESTIGATION_DIR = "investigation";
export const INVESTIGATION_FORMAT = "saekit-investigation";
export const INVESTIGATION_VERSION = 1;

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
export interface StoredProxy {
  /** Absent for the automatic proxy (the top-activating token set): rebuilt on read from the top examples. */
  spec?: string;
  description?: string;
  specificity: number;
  specificityFiring: number;
  sensitivity: number;
  proxyTokens: number;
  proxyCount: number[];
  /** Per bin, the share of its activation mass on proxy tokens (null for an empty bin). */
  massShare: (number | null)[];
  llr: (number | null)[];
}

/** The distinct token ids of a unit's top examples, most frequent first (ties to the smaller id). */
export function rankTopTokens(topIds: Iterable<number>): number[] {
  const counts = new Map<number, number>();
  for (const id of topIds) counts.set(id, (counts.get(id) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]).map(([id]) => id);
}

/**
 * The automatic proxy of a unit: the distinct texts of its ranked top-activating tokens (rankTopTokens), as a
 * `tokens:` spec and a description. The analysis and the store's reader both build it here.
 */
export function autoProxySpec(rankedIds: readonly number[], texts: TokenTexts): { spec: string; description: string; texts: string[] } {
  const list = [...new Set(rankedIds.map((id) => texts.tokenText(id)))];
  const shown = list.length === 0 ? "(no tokens)" : list.slice(0, 6).map((t) => JSON.stringify(t)).join(" ") + (list.length > 6 ? ` … (${list.length})` : "");
  return { spec: `tokens:${JSON.stringify(list)}`, description: `top-activating tokens: ${shown}`, texts: list };
}

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
  ablation: { meanLossEffect: number | null; sampled: number };
  proxy: StoredProxy | null;
  neurons: { alignment: [neuron: number, value: number, fractionOfL1: number, cosine: number][]; correlated: [neuron: number, r: number][] } | null;
  /** Compared run name → [index, r, logitR]. */
  matches: Record<string, [number, number, number | null]>;
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

/** Rounds the floats (4 significant digits; 3 inside example windows), leaving ids, positions and counts exact. */
function compactUnit(u: StoredUnit): StoredUnit {
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
    ablation: { meanLossEffect: r4n(u.ablation.meanLossEffect), sampled: u.ablation.sampled },
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

export interface InvestigationWriterOptions {
  /** Where the folder goes (…/investigation); replaced atomically on finish. */
  dir: string;
  units: number;
  /** [sequences × seqLen] evaluation tokens. */
  tokens: Int32Array;
  seqLen: number;
  vocabSize: number;
  /** Another store over the same tokens whose tokens.gz to point at instead of writing a copy (when identical). */
  shareTokensWith?: string;
}

const DICTIONARY_BYTES = 32 * 1024;

/** The store's tokens as little-endian bytes, and their SHA-256 (which identifies them across stores). */
function tokenBytes(tokens: Int32Array, vocabSize: number): { bytes: Uint8Array; sha256: string } {
  const t = tokenDtype(vocabSize) === "U16" ? Uint16Array.from(tokens) : tokens;
  const bytes = new Uint8Array(t.buffer, t.byteOffset, t.byteLength);
  return { bytes, sha256: crypto.createHash("sha256").update(bytes).digest("hex") };
}

/** Token ids fit in uint16 for vocabularies up to 65,536 (GPT-2's 50,257 does). */
export function tokenDtype(vocabSize: number): "U16" | "I32" {
  return vocabSize <= 65536 ? "U16" : "I32";
}

/** Streams unit records to a temporary folder; `finish` writes the index, search table and manifest, then renames. */
export class InvestigationWriter {
  readonly dir: string;
  private readonly tmp: string;
  private readonly records: Buffer[] = [];
  private next = 0;
  private readonly search: UnitSearchEntry[] = [];
  private readonly columns: UnitColumns;

  constructor(private readonly o: InvestigationWriterOptions) {
    if (o.tokens.length % o.seqLen !== 0) {
      throw new InvestigationStoreError(`investigation ${o.dir}: ${o.tokens.length} tokens are not whole sequences of ${o.seqLen}`);
    }
    this.dir = path.resolve(o.dir);
    fs.mkdirSync(path.dirname(this.dir), { recursive: true });
    removeStaleFolders(this.dir);
    this.tmp = `${this.dir}.tmp-${process.pid}-${Date.now().toString(36)}`;
    fs.mkdirSync(this.tmp);
    const f32 = () => new Float32Array(o.units).fill(Number.NaN);
    this.columns = {
      density: new Float32Array(o.units),
      maxActivation: new Float32Array(o.units),
      meanActivation: new Float32Array(o.units),
      specificity: f32(),
      sensitivity: f32(),
      meanLossEffect: f32(),
      bestNeuron: new Int32Array(o.units).fill(-1),
      bestNeuronR: f32(),
      match: new Int32Array(o.units).fill(-1),
      matchR: f32(),
      matchLogitR: f32(),
    };
  }

  /** Appends the next unit (units are written in index order). */
  add(unit: StoredUnit, search: Omit<UnitSearchEntry, "label">, tokens: number, firstCompare: string | null): void {
    const i = this.next;
    if (i >= this.o.units) throw new InvestigationStoreError(`investigation ${this.dir}: more than ${this.o.units} units added`);
    // Compressed at finish, once the preset dictionary can be drawn from all the records.
    this.records.push(encodeRecord(compactUnit(unit)));
    const c = this.columns;
    c.density[i] = tokens > 0 ? unit.firing / tokens : 0;
    c.maxActivation[i] = unit.max;
    c.meanActivation[i] = unit.mean;
    if (unit.proxy) {
      c.specificity[i] = unit.proxy.specificity;
      c.sensitivity[i] = unit.proxy.sensitivity;
    }
    if (unit.ablation.meanLossEffect !== null) c.meanLossEffect[i] = unit.ablation.meanLossEffect;
    const best = unit.neurons?.correlated[0];
    if (best) {
      c.bestNeuron[i] = best[0];
      c.bestNeuronR[i] = best[1];
    }
    const m = firstCompare !== null ? unit.matches[firstCompare] : undefined;
    if (m) {
      c.match[i] = m[0];
      c.matchR[i] = m[1];
      c.matchLogitR[i] = m[2] ?? Number.NaN;
    }
    this.search.push({ label: unit.label, ...search });
    this.next++;
  }

  finish(manifest: Omit<InvestigationManifest, "tokensFile" | "tokensSha256">): void {
    if (this.next !== this.o.units) {
      throw new InvestigationStoreError(`investigation ${this.dir}: ${this.next} of ${this.o.units} units were added`);
    }
    // Preset dictionary: evenly spaced sample records, most recent bytes weigh most in deflate's window.
    const step = Math.max(1, Math.floor(this.records.length / 64));
    const sample: Buffer[] = [];
    for (let i = 0; i < this.records.length; i += step) sample.push(this.records[i]!);
    const dictionary = Buffer.concat(sample).subarray(-DICTIONARY_BYTES);
    const offsets = new BigInt64Array(this.o.units + 1);
    const blobs = this.records.map((r) => zlib.deflateRawSync(r, { level: 9, ...(dictionary.length ? { dictionary } : {}) }));
    blobs.forEach((b, i) => (offsets[i + 1] = offsets[i]! + BigInt(b.length)));
    fs.writeFileSync(path.join(this.tmp, "units.bin"), Buffer.concat(blobs));
    fs.writeFileSync(path.join(this.tmp, "dictionary.bin"), dictionary);
    const tensors: Record<string, SafetensorsTensorToSave> = { offsets: { dtype: "I64", shape: [this.o.units + 1], data: offsets } };
    for (const [name, data] of Object.entries(this.columns) as [string, Float32Array | Int32Array][]) {
      tensors[name] = { dtype: data instanceof Int32Array ? "I32" : "F32", shape: [this.o.units], data };
    }
    saveSafetensors(path.join(this.tmp, "index.safetensors"), tensors);
    const { bytes, sha256 } = tokenBytes(this.o.tokens, this.o.vocabSize);
    let tokensFile = "tokens.gz";
    const other = this.o.shareTokensWith ? readManifestIfAny(this.o.shareTokensWith) : null;
    const shared = other && other.tokensSha256 === sha256 ? path.resolve(this.o.shareTokensWith!, other.tokensFile) : null;
    // Never point at this store's own file: the folder is about to be replaced.
    if (shared && path.dirname(shared) !== this.dir && fs.existsSync(shared)) {
      tokensFile = path.relative(this.dir, shared);
    } else {
      fs.writeFileSync(path.join(this.tmp, "tokens.gz"), zlib.gzipSync(bytes, { level: 9 }));
    }
    fs.writeFileSync(path.join(this.tmp, "search.json.gz"), zlib.gzipSync(JSON.stringify(this.search), { level: 9 }));
    const full: InvestigationManifest = { ...manifest, tokensFile, tokensSha256: sha256 };
    fs.writeFileSync(path.join(this.tmp, "manifest.json"), `${JSON.stringify(full, null, 1)}\n`);
    fsyncDirectorySync(this.tmp);
    const old = `${this.dir}.old-${process.pid}-${Date.now().toString(36)}`;
    if (fs.existsSync(this.dir)) fs.renameSync(this.dir, old);
    fs.renameSync(this.tmp, this.dir);
    fsyncDirectorySync(path.dirname(this.dir));
    fs.rmSync(old, { recursive: true, force: true });
  }

  /** Drops the temporary folder (on error or interruption). */
  abort(): void {
    fs.rmSync(this.tmp, { recursive: true, force: true });
  }
}

/** Folders an interrupted writer left beside `dir` (…/investigation.tmp-PID-T, …/investigation.old-PID-T). */
function removeStaleFolders(dir: string): void {
  const base = path.basename(dir);
  const stale = new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\.(tmp|old)-\\d+-[0-9a-z]+$`);
  for (const name of fs.readdirSync(path.dirname(dir))) {
    if (stale.test(name)) fs.rmSync(path.join(path.dirname(dir), name), { recursive: true, force: true });
  }
}

function readManifestIfAny(dir: string): InvestigationManifest | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, "manifest.json"), "utf8")) as InvestigationManifest;
  } catch {
    return null;
  }
}

/** How unit ids become text (the model's tokenizer). */
export interface TokenTexts {
  tokenText(id: number): string;
}

export interface SearchHit {
  index: number;
  name: string;
  label: string;
  density: number;
  /** What matched: "name", "label", "top token", "top logit" or "bottom logit". */
  field: string;
  text: string;
}

/** A finished investigation folder, opened for reading. */
export class Investigation {
  readonly dir: string;
  readonly manifest: InvestigationManifest;
  readonly columns: UnitColumns;
  readonly searchTable: UnitSearchEntry[];
  private readonly offsets: BigInt64Array;
  private readonly tokens: Uint16Array | Int32Array;
  private readonly unitsFd: number;
  private readonly dictionary: Buffer;

  constructor(dir: string, private readonly texts: TokenTexts) {
    this.dir = path.resolve(dir);
    const file = (name: string) => path.join(this.dir, name);
    const manifestPath = file("manifest.json");
    if (!fs.existsSync(manifestPath)) {
      throw new InvestigationStoreError(
        `investigation ${this.dir}: no manifest.json (not an investigation folder, or an unfinished one); run saekit analyze first`,
      );
    }
    const manifest = JSON.parse(fs.readFileSync(manifestPath, "utf8")) as InvestigationManifest;
    if (manifest.format !== INVESTIGATION_FORMAT) {
      throw new InvestigationStoreError(`investigation ${manifestPath}: format is ${JSON.stringify(manifest.format)}, expected "${INVESTIGATION_FORMAT}"`);
    }
    if (manifest.version !== INVESTIGATION_VERSION) {
      throw new InvestigationStoreError(
        `investigation ${manifestPath}: version ${manifest.version} is not supported (this saekit reads version ${INVESTIGATION_VERSION}); rerun saekit analyze`,
      );
    }
    this.manifest = manifest;
    const index = openSafetensors(file("index.safetensors"));
    try {
      this.offsets = index.read("offsets") as BigInt64Array;
      const col = <T>(name: string) => index.read(name) as T;
      this.columns = {
        density: col("density"),
        maxActivation: col("maxActivation"),
        meanActivation: col("meanActivation"),
        specificity: col("specificity"),
        sensitivity: col("sensitivity"),
        meanLossEffect: col("meanLossEffect"),
        bestNeuron: col("bestNeuron"),
        bestNeuronR: col("bestNeuronR"),
        match: col("match"),
        matchR: col("matchR"),
        matchLogitR: col("matchLogitR"),
      };
    } finally {
      index.close();
    }
    if (this.offsets.length !== manifest.units + 1) {
      throw new InvestigationStoreError(`investigation ${file("index.safetensors")}: offsets has ${this.offsets.length} entries, expected ${manifest.units + 1}`);
    }
    this.searchTable = JSON.parse(zlib.gunzipSync(fs.readFileSync(file("search.json.gz"))).toString("utf8")) as UnitSearchEntry[];
    this.dictionary = fs.readFileSync(file("dictionary.bin"));
    const tokensPath = path.resolve(this.dir, manifest.tokensFile);
    if (!fs.existsSync(tokensPath)) {
      throw new InvestigationStoreError(`investigation ${manifestPath}: its tokens file ${tokensPath} is missing; rerun saekit analyze`);
    }
    const raw = zlib.gunzipSync(fs.readFileSync(tokensPath));
    if (crypto.createHash("sha256").update(raw).digest("hex") !== manifest.tokensSha256) {
      throw new InvestigationStoreError(`investigation ${manifestPath}: ${tokensPath} is not the token stream it was analysed on (SHA-256 differs); rerun saekit analyze`);
    }
    const expected = manifest.sequences * manifest.seqLen;
    const bytes = manifest.tokenDtype === "I32" ? 4 : 2;
    if (raw.length !== expected * bytes) {
      throw new InvestigationStoreError(`investigation ${tokensPath}: ${raw.length} bytes, expected ${expected} ${manifest.tokenDtype} tokens`);
    }
    // Copy into an aligned buffer (little-endian hosts; Node on x86-64 and arm64).
    const aligned = new Uint8Array(raw.length);
    aligned.set(raw);
    this.tokens = manifest.tokenDtype === "I32" ? new Int32Array(aligned.buffer) : new Uint16Array(aligned.buffer);
    this.unitsFd = fs.openSync(file("units.bin"), "r");
  }

  get units(): number {
    return this.manifest.units;
  }

  /** `A/1/3450` for features, `A/neuron/489` for neurons. */
  unitName(index: number): string {
    return `${this.manifest.name}/${index}`;
  }

  /** The stored (compact) record of a unit. */
  storedUnit(index: number): StoredUnit {
    if (!Number.isInteger(index) || index < 0 || index >= this.units) {
      throw new InvestigationStoreError(`investigation ${this.manifest.name}: unit ${index} is out of range [0, ${this.units})`);
    }
    const begin = Number(this.offsets[index]!);
    const end = Number(this.offsets[index + 1]!);
    const buf = Buffer.alloc(end - begin);
    let done = 0;
    while (done < buf.length) {
      const n = fs.readSync(this.unitsFd, buf, done, buf.length - done, begin + done);
      if (n === 0) throw new InvestigationStoreError(`investigation ${this.dir}/units.bin: truncated at unit ${index}`);
      done += n;
    }
    const options = this.dictionary.length ? { dictionary: this.dictionary } : {};
    return decodeRecord(zlib.inflateRawSync(buf, options));
  }

  /** Token ids of one evaluation sequence. */
  sequence(s: number): Uint16Array | Int32Array {
    const L = this.manifest.seqLen;
    return this.tokens.subarray(s * L, (s + 1) * L);
  }

  domainOf(sequence: number): string {
    for (const d of this.manifest.domains) if (sequence >= d.firstSequence && sequence < d.firstSequence + d.sequences) return d.domain;
    return "unknown";
  }

  private example(e: StoredExample, max: number): Example {
    const { windowBefore, windowAfter } = this.manifest.options;
    const seq = this.sequence(e.s);
    const start = Math.max(0, e.p - windowBefore);
    const end = Math.min(seq.length, e.p + windowAfter + 1);
    const tokens = [];
    for (let q = start; q < end; q++) {
      const id = seq[q]!;
      tokens.push({ id, text: this.texts.tokenText(id), activation: 0, logprobDelta: q === seq.length - 1 ? null : 0 });
    }
    for (const [offset, q, delta] of e.w) {
      const t = tokens[e.p + offset - start];
      if (t) {
        t.activation = offset === 0 ? e.a : (q / 255) * max;
        t.logprobDelta = delta;
      }
    }
    return { sequence: e.s, position: e.p, activation: e.a, domain: this.domainOf(e.s), start, tokens };
  }

  private proxyNames(u: StoredUnit): { spec: string; description: string } {
    if (u.proxy?.spec !== undefined) return { spec: u.proxy.spec, description: u.proxy.description ?? u.proxy.spec };
    const { spec, description } = autoProxySpec(rankTopTokens(u.top.map((e) => this.sequence(e.s)[e.p]!)), this.texts);
    return { spec, description };
  }

  /** The full, ready-to-render record of a unit. */
  unit(index: number): UnitRecord {
    const u = this.storedUnit(index);
    const m = this.manifest;
    const bins = u.hist.length;
    const model = m.model;
    const word = (id: number, weight: number) => ({ id, text: this.texts.tokenText(id), weight });
    const density = m.tokens > 0 ? u.firing / m.tokens : 0;
    return {
      name: this.unitName(index),
      kind: m.kind,
      index,
      label: u.label,
      tokens: m.tokens,
      firing: u.firing,
      density,
      maxActivation: u.max,
      meanActivation: u.mean,
      histogram: { edges: Array.from({ length: bins + 1 }, (_, b) => (u.max * b) / bins), counts: u.hist },
      top: u.top.map((e) => this.example(e, u.max)),
      intervals: u.intervals.map((iv) => ({ lo: iv.lo, hi: iv.hi, fraction: iv.fraction, examples: iv.examples.map((e) => this.example(e, u.max)) })),
      logits: {
        top: u.logits.top.map(([id, w]) => word(id, w)),
        bottom: u.logits.bottom.map(([id, w]) => word(id, w)),
        histogram: {
          edges: Array.from({ length: u.logits.counts.length + 1 }, (_, b) => u.logits.range[0] + ((u.logits.range[1] - u.logits.range[0]) * b) / u.logits.counts.length),
          counts: u.logits.counts,
        },
        mean: u.logits.mean,
        std: u.logits.std,
      },
      ablation: {
        meanLossEffect: u.ablation.meanLossEffect,
        lossEffectPerToken: u.ablation.meanLossEffect === null ? null : u.ablation.meanLossEffect * density,
        sampled: u.ablation.sampled,
      },
      proxy: u.proxy && {
        ...this.proxyNames(u),
        specificity: u.proxy.specificity,
        specificityFiring: u.proxy.specificityFiring,
        sensitivity: u.proxy.sensitivity,
        proxyTokens: u.proxy.proxyTokens,
        bins: u.hist.map((count, b) => ({
          lo: (u.max * b) / bins,
          hi: (u.max * (b + 1)) / bins,
          count,
          proxyCount: u.proxy!.proxyCount[b] ?? 0,
          proxyMassShare: u.proxy!.massShare[b] ?? null,
          meanLlr: u.proxy!.llr[b] ?? null,
        })),
      },
      neurons: u.neurons
        ? {
            alignment: u.neurons.alignment.map(([neuron, value, fractionOfL1, cosine]) => ({ neuron, name: `${model}/neuron/${neuron}`, value, fractionOfL1, cosine })),
            correlated: u.neurons.correlated.map(([neuron, r]) => ({ index: neuron, name: `${model}/neuron/${neuron}`, r })),
          }
        : null,
      matches: Object.fromEntries(
        Object.entries(u.matches).map(([run, [index2, r, logitR]]) => [run, { name: `${run}/${index2}`, index: index2, r, logitR }]),
      ),
    };
  }

  /**
   * Units whose name, label, top-activating tokens or top/bottom logit tokens contain the query (case-insensitive;
   * a query like "3450" or "A/1/3450" finds that unit). Exact token matches rank first, then by density.
   */
  search(query: string, options: { limit?: number; fields?: readonly ("name" | "label" | "token" | "logit")[] } = {}): SearchHit[] {
    const limit = options.limit ?? 50;
    const fields = new Set(options.fields ?? ["name", "label", "token", "logit"]);
    const q = query.trim().toLowerCase();
    if (q === "") return [];
    const hits: (SearchHit & { rank: number })[] = [];
    const prefix = `${this.manifest.name.toLowerCase()}/`;
    const asIndex = q.startsWith(prefix) ? q.slice(prefix.length) : q;
    for (let i = 0; i < this.units; i++) {
      const e = this.searchTable[i]!;
      const density = this.columns.density[i]!;
      const hit = (field: string, text: string, rank: number) => hits.push({ index: i, name: this.unitName(i), label: e.label, density, field, text, rank });
      if (fields.has("name") && /^\d+$/.test(asIndex) && Number(asIndex) === i) {
        hit("name", this.unitName(i), 0);
        continue;
      }
      if (fields.has("label") && e.label.toLowerCase().includes(q) && !e.topTokens.some((t) => t.toLowerCase().trim() === q)) {
        hit("label", e.label, 2);
        continue;
      }
      // Rank: exact name 0, exact top token 1, label 2, exact logit token 3, then partial matches (tokens before logits).
      const inList = (list: string[], field: string, exactRank: number, partialRank: number) => {
        for (const t of list) {
          const tl = t.toLowerCase();
          if (tl.trim() === q) return hit(field, t, exactRank), true;
        }
        for (const t of list) if (t.toLowerCase().includes(q)) return hit(field, t, partialRank), true;
        return false;
      };
      if (fields.has("token") && inList(e.topTokens, "top token", 1, 4)) continue;
      if (fields.has("logit") && (inList(e.logitTop, "top logit", 3, 5) || inList(e.logitBottom, "bottom logit", 3, 5))) continue;
    }
    hits.sort((a, b) => a.rank - b.rank || b.density - a.density || a.index - b.index);
    return hits.slice(0, limit).map(({ rank: _rank, ...h }) => h);
  }

  close(): void {
    fs.closeSync(this.unitsFd);
  }
}

export function openInvestigation(dir: string, texts: TokenTexts): Investigation {
  return new Investigation(dir, texts);
}
