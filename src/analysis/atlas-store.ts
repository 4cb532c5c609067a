/**
 * atlas.safetensors, the optional file of a feature store written by `analyze --atlas` (atlas.ts): the 2-D map of
 * the decoder rows of this run and the other runs of its model named with it.
 *   coords  F32 [points × 2]   x, y of every point; points are the runs' units, run after run in the metadata's order
 * metadata: format "saekit-atlas", version "1", runs (JSON [{name, units, decoderSha256}]: the SHA-256 of each
 * run's W_dec bytes, so a map can be matched to the weights it was made from), params (JSON atlas.ts AtlasParams).
 * Checksummed in the manifest like the store's other files; a store without the file has no atlas.
 *
 * Why in a run's store and not the model folder: the model's investigation/ is its neuron store, replaced whole by
 * every analyze, and a store is the unit that is written atomically and checksummed. Any feature store of a model
 * may hold its atlas; the one covering the most points is shown (atlas-view.ts).
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { encodeSafetensors } from "../io/safetensors.js";
import { openOptionalStoreFile } from "./store/optional-file.js";
import type { Atlas, AtlasParams } from "./atlas.js";

export const ATLAS_FILE = "atlas.safetensors";
const ATLAS_FORMAT = "saekit-atlas";
const ATLAS_VERSION = "1";

export class AtlasStoreError extends Error {
  override name = "AtlasStoreError";
}

export interface StoredAtlasRun {
  name: string;
  units: number;
  decoderSha256: string;
}

export interface StoredAtlas {
  runs: StoredAtlasRun[];
  coords: Float32Array;
  params: AtlasParams;
}

/** SHA-256 of a decoder's float32 bytes (little-endian, as in memory on x86-64 and arm64). */
export function decoderSha256(decoder: Float32Array): string {
  return crypto.createHash("sha256").update(new Uint8Array(decoder.buffer, decoder.byteOffset, decoder.byteLength)).digest("hex");
}

/** The bytes of atlas.safetensors. `sha256` gives each run's decoderSha256 by name. */
export function encodeAtlas(atlas: Atlas, sha256: (run: string) => string): Uint8Array {
  const runs: StoredAtlasRun[] = atlas.runs.map((r) => ({ name: r.name, units: r.units, decoderSha256: sha256(r.name) }));
  const metadata = { format: ATLAS_FORMAT, version: ATLAS_VERSION, runs: JSON.stringify(runs), params: JSON.stringify(atlas.params) };
  const chunks = [...encodeSafetensors({ coords: { dtype: "F32", shape: [atlas.coords.length / 2, 2], data: atlas.coords } }, metadata, ATLAS_FILE)];
  return Buffer.concat(chunks);
}

/** Whether a store folder holds an atlas file (no read, no check). */
export function hasAtlas(storeDir: string): boolean {
  return fs.existsSync(path.join(storeDir, ATLAS_FILE));
}

/**
 * The atlas of a store (null when it has none); `sha256` is the manifest's checksum of the file, when it has one.
 * Errors name the file and what is wrong with it.
 */
export function readAtlas(storeDir: string, sha256?: string): StoredAtlas | null {
  const file = path.join(storeDir, ATLAS_FILE);
  const fail = (what: string) => new AtlasStoreError(`investigation ${file}: ${what}; the atlas is damaged, rerun saekit analyze --atlas`);
  const reader = openOptionalStoreFile(file, sha256, fail);
  if (!reader) return null;
  try {
    const meta = reader.metadata ?? {};
    if (meta.format !== ATLAS_FORMAT) throw fail(`metadata format is ${JSON.stringify(meta.format)}, expected "${ATLAS_FORMAT}"`);
    if (meta.version !== ATLAS_VERSION) throw fail(`version ${JSON.stringify(meta.version)} is not supported (this saekit reads ${ATLAS_VERSION})`);
    let runs: StoredAtlasRun[];
    let params: AtlasParams;
    try {
      runs = JSON.parse(meta.runs ?? "null") as StoredAtlasRun[];
      params = JSON.parse(meta.params ?? "null") as AtlasParams;
    } catch (e) {
      throw fail(`its runs or params metadata is not JSON (${(e as Error).message})`);
    }
    if (!Array.isArray(runs) || runs.length === 0 || !runs.every((r) => r && typeof r.name === "string" && Number.isInteger(r.units) && r.units > 0 && typeof r.decoderSha256 === "string")) {
      throw fail("its runs metadata must be a non-empty list of {name, units, decoderSha256}");
    }
    if (params === null || typeof params !== "object" || !Number.isSafeInteger(params.seed)) throw fail("its params metadata is malformed");
    const points = runs.reduce((s, r) => s + r.units, 0);
    let coords: unknown;
    try {
      coords = reader.read("coords");
    } catch (e) {
      throw fail((e as Error).message);
    }
    if (!(coords instanceof Float32Array) || coords.length !== points * 2) {
      throw fail(`coords must be F32 [${points} × 2] (the units of ${runs.map((r) => r.name).join(", ")})`);
    }
    for (let i = 0; i < coords.length; i++) if (!Number.isFinite(coords[i]!)) throw fail(`coords of point ${i >> 1} are not finite`);
    return { runs, coords, params };
  } finally {
    reader.close();
  }
}
