/** Writes an investigation store (the layout is format.ts' module doc): records streamed in, folder renamed into place. */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { fsyncDirectorySync } from "../../io/atomic.js";
import { saveSafetensors, type SafetensorsTensorToSave } from "../../io/safetensors.js";
import type { InvestigationManifest, UnitColumns, UnitSearchEntry } from "../unit-record.js";
import { compactUnit, encodeRecord, InvestigationStoreError, tokenDtype, type StoredUnit } from "./format.js";

export interface InvestigationWriterOptions {
  /** Where the folder goes (…/investigation); replaced atomically on finish. */
  dir: string;
  units: number;
  /** [sequences × seqLen] evaluation tokens. */
  tokens: Int32Array;
  seqLen: number;
  vocabSize: number;
  /**
   * Other stores over the same tokens, tried in order: the first whose tokens are identical (same SHA-256) has its
   * token file pointed at instead of a copy written.
   */
  shareTokensWith?: string | readonly string[];
}

const DICTIONARY_BYTES = 32 * 1024;

/**
 * The token file of the first candidate store holding exactly these tokens (its manifest's tokensSha256), or null.
 * Never this store's own file (the folder is about to be replaced), never a file that is gone.
 */
function sharedTokenFile(candidates: string | readonly string[] | undefined, tokensHash: string, ownDir: string): string | null {
  for (const dir of typeof candidates === "string" ? [candidates] : candidates ?? []) {
    const other = readManifestIfAny(dir);
    if (!other || other.tokensSha256 !== tokensHash) continue;
    const file = path.resolve(dir, other.tokensFile);
    if (path.dirname(file) !== ownDir && fs.existsSync(file)) return file;
  }
  return null;
}

/** The store's tokens as little-endian bytes, and their SHA-256 (which identifies them across stores). */
function tokenBytes(tokens: Int32Array, vocabSize: number): { bytes: Uint8Array; sha256: string } {
  const t = tokenDtype(vocabSize) === "U16" ? Uint16Array.from(tokens) : tokens;
  const bytes = new Uint8Array(t.buffer, t.byteOffset, t.byteLength);
  return { bytes, sha256: sha256(bytes) };
}

function sha256(data: Uint8Array): string {
  return crypto.createHash("sha256").update(data).digest("hex");
}

/** Streams unit records to a temporary folder; `finish` writes the index, search table and manifest, then renames. */
export class InvestigationWriter {
  readonly dir: string;
  private readonly tmp: string;
  private readonly records: Buffer[] = [];
  private next = 0;
  /** Each unit's search entry as JSON text: one string per unit, not a few dozen small objects held until finish. */
  private readonly search: string[] = [];
  private readonly columns: UnitColumns;
  /** Optional files of the store (e.g. family.safetensors), written and checksummed at finish. */
  private readonly extraFiles = new Map<string, Uint8Array>();

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
      meanLossEffectSE: f32(),
      meanLossEffectN: f32(),
      bestNeuron: new Int32Array(o.units).fill(-1),
      bestNeuronR: f32(),
      match: new Int32Array(o.units).fill(-1),
      matchR: f32(),
      matchLogitR: f32(),
      interpScore: f32(),
      interpSpec: f32(),
      interpSens: f32(),
      codeShare: f32(),
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
    if (unit.ablation.se !== undefined && unit.ablation.se !== null) c.meanLossEffectSE![i] = unit.ablation.se;
    c.meanLossEffectN![i] = unit.ablation.sampled;
    if (unit.interp) [c.interpScore[i], c.interpSpec[i], c.interpSens[i]] = unit.interp;
    if (unit.codeShare !== undefined && unit.codeShare !== null) c.codeShare![i] = unit.codeShare;
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
    const entry: UnitSearchEntry = { label: unit.label, ...search };
    this.search.push(JSON.stringify(entry));
    this.next++;
  }

  /** An optional file of the store (format.ts CHECKSUMMED_FILES), written into the folder at finish. */
  addFile(name: string, data: Uint8Array): void {
    if (!/^[a-z][a-z0-9_.-]*$/.test(name)) throw new InvestigationStoreError(`investigation ${this.dir}: ${JSON.stringify(name)} is not a plain file name`);
    this.extraFiles.set(name, data);
  }

  finish(manifest: Omit<InvestigationManifest, "tokensFile" | "tokensSha256">): void {
    const dictionary = this.dictionary();
    this.finishWith(this.records.map((r) => zlib.deflateRawSync(r, deflateOptions(dictionary))), dictionary, manifest);
  }

  /**
   * finish, with the records compressed on libuv's thread pool (every core, not just this thread's: at 131,072 units
   * the level-9 deflate of the records is most of the write). The same bytes as finish.
   */
  async finishAsync(manifest: Omit<InvestigationManifest, "tokensFile" | "tokensSha256">): Promise<void> {
    const dictionary = this.dictionary();
    const deflate = (r: Buffer) => new Promise<Buffer>((resolve, reject) => zlib.deflateRaw(r, deflateOptions(dictionary), (e, b) => (e ? reject(e) : resolve(b))));
    // A few records in flight at a time: each deflate stream holds ~300 KB of zlib state until it ends.
    const blobs: Buffer[] = new Array(this.records.length);
    let next = 0;
    const worker = async () => {
      while (next < this.records.length) {
        const i = next++;
        blobs[i] = await deflate(this.records[i]!);
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    this.finishWith(blobs, dictionary, manifest);
  }

  /** Preset dictionary: evenly spaced sample records, most recent bytes weigh most in deflate's window. */
  private dictionary(): Buffer {
    if (this.next !== this.o.units) {
      throw new InvestigationStoreError(`investigation ${this.dir}: ${this.next} of ${this.o.units} units were added`);
    }
    const step = Math.max(1, Math.floor(this.records.length / 64));
    const sample: Buffer[] = [];
    for (let i = 0; i < this.records.length; i += step) sample.push(this.records[i]!);
    return Buffer.concat(sample).subarray(-DICTIONARY_BYTES);
  }

  private finishWith(blobs: Buffer[], dictionary: Buffer, manifest: Omit<InvestigationManifest, "tokensFile" | "tokensSha256">): void {
    const offsets = new BigInt64Array(this.o.units + 1);
    blobs.forEach((b, i) => (offsets[i + 1] = offsets[i]! + BigInt(b.length)));
    const checksums: Record<string, string> = {};
    const write = (name: string, data: Uint8Array) => {
      fs.writeFileSync(path.join(this.tmp, name), data);
      checksums[name] = sha256(data);
    };
    write("units.bin", Buffer.concat(blobs));
    write("dictionary.bin", dictionary);
    const tensors: Record<string, SafetensorsTensorToSave> = { offsets: { dtype: "I64", shape: [this.o.units + 1], data: offsets } };
    for (const [name, data] of Object.entries(this.columns) as [string, Float32Array | Int32Array | undefined][]) {
      if (!data) continue;
      tensors[name] = { dtype: data instanceof Int32Array ? "I32" : "F32", shape: [this.o.units], data };
    }
    saveSafetensors(path.join(this.tmp, "index.safetensors"), tensors);
    checksums["index.safetensors"] = sha256(fs.readFileSync(path.join(this.tmp, "index.safetensors")));
    const { bytes, sha256: tokensHash } = tokenBytes(this.o.tokens, this.o.vocabSize);
    let tokensFile = "tokens.gz";
    const shared = sharedTokenFile(this.o.shareTokensWith, tokensHash, this.dir);
    if (shared) {
      tokensFile = path.relative(this.dir, shared);
    } else {
      write("tokens.gz", zlib.gzipSync(bytes, { level: 9 }));
    }
    write("search.json.gz", zlib.gzipSync(`[${this.search.join(",")}]`, { level: 9 }));
    for (const [name, data] of this.extraFiles) write(name, data);
    // The headline figures on their own, for scripts and notes that want them without the store's reader.
    if (manifest.interpretability || manifest.runFigures) {
      const summary = {
        ...(manifest.interpretability ? { interpretability: manifest.interpretability } : {}),
        ...(manifest.runFigures ? { lowDensity: manifest.lowDensity, densityHistogram: manifest.densityHistogram, runFigures: manifest.runFigures } : {}),
      };
      fs.writeFileSync(path.join(this.tmp, "summary.json"), `${JSON.stringify(summary, null, 1)}\n`);
    }
    const full: InvestigationManifest = { ...manifest, tokensFile, tokensSha256: tokensHash, checksums };
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

function deflateOptions(dictionary: Buffer): zlib.ZlibOptions {
  return { level: 9, ...(dictionary.length ? { dictionary } : {}) };
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
