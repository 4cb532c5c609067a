/** Reads a finished investigation store (the layout is format.ts' module doc), one unit record at a time. */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { neuronSetName, unitName } from "../../names.js";
import { openSafetensors, type SafetensorsReader } from "../../io/safetensors.js";
import type { Example, InvestigationManifest, UnitColumns, UnitRecord, UnitRelations, UnitSearchEntry } from "../unit-record.js";
import {
  autoProxySpec, decodeRecord, INVESTIGATION_FORMAT, INVESTIGATION_VERSION, InvestigationStoreError, rankTopTokens,
  type StoredExample, type StoredRelated, type StoredUnit, type TokenTexts,
} from "./format.js";
import { searchUnits, type SearchHit, type SearchOptions } from "./search.js";

/** How many top tokens older stores' search.json.gz kept per unit (the writer now keeps them all). */
export const SEARCH_TOP_TOKENS_CAP = 8;


/** A finished investigation folder, opened for reading (its files validated; see format.ts). */
export class InvestigationStore {
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
    const manifest = this.manifest = readManifest(manifestPath);
    const fail = (name: string, what: string) => new InvestigationStoreError(`investigation ${file(name)}: ${what}; the store is damaged, rerun saekit analyze`);
    const read = (name: string): Buffer => {
      let data: Buffer;
      try {
        data = fs.readFileSync(file(name));
      } catch (e) {
        throw fail(name, `cannot be read (${(e as Error).message})`);
      }
      const want = manifest.checksums?.[name];
      if (want !== undefined && sha256(data) !== want) throw fail(name, "its SHA-256 differs from the manifest's checksum (a corrupt or replaced file)");
      return data;
    };
    const units = manifest.units;
    read("index.safetensors");
    let index: SafetensorsReader;
    try {
      index = openSafetensors(file("index.safetensors"));
    } catch (e) {
      throw fail("index.safetensors", (e as Error).message);
    }
    const col = <T extends Float32Array | Int32Array | BigInt64Array>(name: string, ctor: new (n: number) => T, length: number): T => {
      let v: unknown;
      try {
        v = index.read(name);
      } catch (e) {
        throw fail("index.safetensors", (e as Error).message);
      }
      if (!(v instanceof ctor) || v.length !== length) {
        const got = ArrayBuffer.isView(v) ? `${v.constructor.name} of ${(v as T).length}` : typeof v;
        throw fail("index.safetensors", `column ${name} is ${got}, expected ${ctor.name} of ${length}`);
      }
      return v;
    };
    const f32 = (name: string) => col(name, Float32Array, units);
    const i32 = (name: string) => col(name, Int32Array, units);
    // Columns added after the format's first stores: NaN where an older store has none.
    const laterF32 = (name: string) => (index.has(name) ? f32(name) : new Float32Array(units).fill(Number.NaN));
    try {
      this.offsets = col("offsets", BigInt64Array, units + 1);
      this.columns = {
        density: f32("density"),
        maxActivation: f32("maxActivation"),
        meanActivation: f32("meanActivation"),
        specificity: f32("specificity"),
        sensitivity: f32("sensitivity"),
        meanLossEffect: f32("meanLossEffect"),
        meanLossEffectSE: laterF32("meanLossEffectSE"),
        meanLossEffectN: laterF32("meanLossEffectN"),
        bestNeuron: i32("bestNeuron"),
        bestNeuronR: f32("bestNeuronR"),
        match: i32("match"),
        matchR: f32("matchR"),
        matchLogitR: f32("matchLogitR"),
        interpScore: laterF32("interpScore"),
        interpSpec: laterF32("interpSpec"),
        interpSens: laterF32("interpSens"),
        codeShare: laterF32("codeShare"),
      };
    } finally {
      index.close();
    }
    this.unitsFd = fs.openSync(file("units.bin"), "r");
    try {
      if (manifest.checksums?.["units.bin"] !== undefined) read("units.bin");
      const size = fs.fstatSync(this.unitsFd).size;
      if (this.offsets[0] !== 0n) throw fail("index.safetensors", `offsets[0] is ${this.offsets[0]}, expected 0`);
      for (let i = 0; i < units; i++) {
        if (this.offsets[i + 1]! < this.offsets[i]!) throw fail("index.safetensors", `offsets decrease at unit ${i} (${this.offsets[i]} → ${this.offsets[i + 1]})`);
      }
      if (Number(this.offsets[units]!) !== size) throw fail("units.bin", `${size} bytes, but the offsets end at ${this.offsets[units]}`);
      this.searchTable = parseSearchTable(read("search.json.gz"), units, (what) => fail("search.json.gz", what));
      this.dictionary = read("dictionary.bin");
      this.tokens = readTokens(this.dir, manifest, manifest.tokensFile === "tokens.gz" ? read("tokens.gz") : null);
    } catch (e) {
      fs.closeSync(this.unitsFd);
      throw e;
    }
  }

  get units(): number {
    return this.manifest.units;
  }

  /** `A/1/3450` for features, `A/neuron/489` for neurons. */
  unitName(index: number): string {
    return unitName(this.manifest.name, index);
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
    try {
      return decodeRecord(zlib.inflateRawSync(buf, options));
    } catch (e) {
      throw new InvestigationStoreError(`investigation ${this.dir}/units.bin: the record of unit ${index} cannot be decoded (${(e as Error).message}); the store is damaged, rerun saekit analyze`);
    }
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
    const neurons = neuronSetName(m.model);
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
        ...(u.ablation.se !== undefined ? { standardError: u.ablation.se } : {}),
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
            alignment: u.neurons.alignment.map(([neuron, value, fractionOfL1, cosine]) => ({ neuron, name: unitName(neurons, neuron), value, fractionOfL1, cosine })),
            correlated: u.neurons.correlated.map(([neuron, r]) => ({ index: neuron, name: unitName(neurons, neuron), r })),
          }
        : null,
      matches: Object.fromEntries(
        Object.entries(u.matches).map(([run, [index2, r, logitR]]) => [run, { name: unitName(run, index2), index: index2, r, logitR }]),
      ),
      ...(u.related ? { related: this.relations(u.related) } : {}),
      ...(u.interp !== undefined ? { interpretability: u.interp && { score: u.interp[0], spec: u.interp[1], sens: u.interp[2], proxy: u.interp[3] } } : {}),
    };
  }

  /** The stored related units with their names (a reverse match of −1 or a NaN r stored as null: none). */
  private relations(rel: StoredRelated): UnitRelations {
    const m = this.manifest;
    const features = m.kind === "feature" ? m.name : null;
    const unitOf = (set: string, index: number, r: number | null) => ({ name: unitName(set, index), index, r: r ?? Number.NaN });
    return {
      matches: Object.fromEntries(
        Object.entries(rel.m ?? {}).map(([run, list]) => [
          run,
          list.map(([index, r, rev, revR]) => ({ ...unitOf(run, index, r), reverse: rev >= 0 && revR !== null ? unitOf(m.name, rev, revR) : null })),
        ]),
      ),
      coactivation: rel.co && features ? rel.co.map(([index, r]) => unitOf(features, index, r)) : null,
      // A neuron store's features are those of the SAE run it was analysed with (manifest.featureRun).
      features: rel.f && m.featureRun ? rel.f.map(([index, r]) => unitOf(m.featureRun!, index, r)) : null,
    };
  }

  private fullTopTokens: string[][] | null = null;

  /**
   * Every unit's distinct top-activating token texts, most frequent first. search.json.gz of stores written before
   * 2026-12 keeps the first SEARCH_TOP_TOKENS_CAP only: a list of that length is completed from the unit's record
   * (once, on first use: about 1 s for 4,096 units).
   */
  allTopTokens(): readonly string[][] {
    this.fullTopTokens ??= this.searchTable.map((e, i) => {
      if (e.topTokens.length !== SEARCH_TOP_TOKENS_CAP) return e.topTokens;
      const u = this.storedUnit(i);
      return autoProxySpec(rankTopTokens(u.top.map((x) => this.sequence(x.s)[x.p]!)), this.texts).texts;
    });
    return this.fullTopTokens;
  }

  /** Units matching a query (search.ts: names, labels, every top token, logit tokens; ranked, exact matches first). */
  search(query: string, options: SearchOptions = {}): SearchHit[] {
    return searchUnits(this, query, options);
  }

  close(): void {
    fs.closeSync(this.unitsFd);
  }
}

/** Opens a finished investigation folder (validated; InvestigationStoreError names the damaged file). */
export function openInvestigation(dir: string, texts: TokenTexts): InvestigationStore {
  return new InvestigationStore(dir, texts);
}

function sha256(data: Uint8Array): string {
  return crypto.createHash("sha256").update(data).digest("hex");
}

const MANIFEST_FIELDS: [string, string][] = [
  ["name", "string"], ["kind", "string"], ["model", "string"], ["hook", "string"], ["units", "integer"], ["tokens", "integer"],
  ["sequences", "integer"], ["seqLen", "integer"], ["tokensFile", "string"], ["tokensSha256", "string"], ["tokenDtype", "string"],
];

export function readManifest(manifestPath: string): InvestigationManifest {
  let manifest: InvestigationManifest;
  try {
    manifest = JSON.parse(fs.readFileSync(manifestPath, "utf8")) as InvestigationManifest;
  } catch (e) {
    throw new InvestigationStoreError(`investigation ${manifestPath}: not valid JSON (${(e as Error).message}); rerun saekit analyze`);
  }
  if (manifest === null || typeof manifest !== "object") throw new InvestigationStoreError(`investigation ${manifestPath}: not a JSON object`);
  if (manifest.format !== INVESTIGATION_FORMAT) {
    throw new InvestigationStoreError(`investigation ${manifestPath}: format is ${JSON.stringify(manifest.format)}, expected "${INVESTIGATION_FORMAT}"`);
  }
  if (manifest.version !== INVESTIGATION_VERSION) {
    throw new InvestigationStoreError(
      `investigation ${manifestPath}: version ${manifest.version} is not supported (this saekit reads version ${INVESTIGATION_VERSION}); rerun saekit analyze`,
    );
  }
  const m = manifest as unknown as Record<string, unknown>;
  for (const [field, type] of MANIFEST_FIELDS) {
    const v = m[field];
    const ok = type === "integer" ? Number.isSafeInteger(v) && (v as number) >= 0 : typeof v === type;
    if (!ok) throw new InvestigationStoreError(`investigation ${manifestPath}: ${field} is ${JSON.stringify(v)}, expected ${type === "integer" ? "a non-negative integer" : `a ${type}`}`);
  }
  if (manifest.kind !== "feature" && manifest.kind !== "neuron") throw new InvestigationStoreError(`investigation ${manifestPath}: kind is ${JSON.stringify(manifest.kind)}, expected "feature" or "neuron"`);
  if (manifest.tokenDtype !== "U16" && manifest.tokenDtype !== "I32") throw new InvestigationStoreError(`investigation ${manifestPath}: tokenDtype is ${JSON.stringify(manifest.tokenDtype)}, expected "U16" or "I32"`);
  if (manifest.tokens !== manifest.sequences * manifest.seqLen) {
    throw new InvestigationStoreError(`investigation ${manifestPath}: tokens ${manifest.tokens} ≠ sequences ${manifest.sequences} × seqLen ${manifest.seqLen}`);
  }
  if (!Array.isArray(manifest.domains) || !manifest.options || !Number.isInteger(manifest.options.windowBefore) || !Number.isInteger(manifest.options.windowAfter)) {
    throw new InvestigationStoreError(`investigation ${manifestPath}: domains or options are missing`);
  }
  const sums = manifest.checksums;
  if (sums !== undefined && (sums === null || typeof sums !== "object" || Object.values(sums).some((v) => typeof v !== "string"))) {
    throw new InvestigationStoreError(`investigation ${manifestPath}: checksums must map file names to SHA-256 hex strings`);
  }
  return manifest;
}

/** The search table: one entry per unit, each with a label and three lists of strings. */
function parseSearchTable(gz: Buffer, units: number, fail: (what: string) => Error): UnitSearchEntry[] {
  let table: unknown;
  try {
    table = JSON.parse(zlib.gunzipSync(gz).toString("utf8"));
  } catch (e) {
    throw fail(`not gzip'd JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(table) || table.length !== units) throw fail(`expected ${units} entries, got ${Array.isArray(table) ? table.length : typeof table}`);
  const strings = (v: unknown) => Array.isArray(v) && v.every((t) => typeof t === "string");
  table.forEach((e: Partial<UnitSearchEntry> | null, i) => {
    if (!e || typeof e.label !== "string" || !strings(e.topTokens) || !strings(e.logitTop) || !strings(e.logitBottom)) throw fail(`entry ${i} is malformed`);
  });
  return table as UnitSearchEntry[];
}

/** The evaluation tokens (this store's tokens.gz, already read and checked, or the file of the store it shares). */
function readTokens(dir: string, manifest: InvestigationManifest, own: Buffer | null): Uint16Array | Int32Array {
  const tokensPath = path.resolve(dir, manifest.tokensFile);
  if (own === null && !fs.existsSync(tokensPath)) {
    throw new InvestigationStoreError(`investigation ${path.join(dir, "manifest.json")}: its tokens file ${tokensPath} is missing; rerun saekit analyze`);
  }
  let raw: Buffer;
  try {
    raw = zlib.gunzipSync(own ?? fs.readFileSync(tokensPath));
  } catch (e) {
    throw new InvestigationStoreError(`investigation ${tokensPath}: not a gzip'd token file (${(e as Error).message}); the store is damaged, rerun saekit analyze`);
  }
  if (sha256(raw) !== manifest.tokensSha256) {
    throw new InvestigationStoreError(`investigation ${path.join(dir, "manifest.json")}: ${tokensPath} is not the token stream it was analysed on (SHA-256 differs); rerun saekit analyze`);
  }
  const expected = manifest.sequences * manifest.seqLen;
  const bytes = manifest.tokenDtype === "I32" ? 4 : 2;
  if (raw.length !== expected * bytes) {
    throw new InvestigationStoreError(`investigation ${tokensPath}: ${raw.length} bytes, expected ${expected} ${manifest.tokenDtype} tokens`);
  }
  // Copy into an aligned buffer (little-endian hosts; Node on x86-64 and arm64).
  const aligned = new Uint8Array(raw.length);
  aligned.set(raw);
  return manifest.tokenDtype === "I32" ? new Int32Array(aligned.buffer) : new Uint16Array(aligned.buffer);
}
