/**
 * family.safetensors, the optional file of a feature store written by `analyze --family` (family.ts' links to the
 * next smaller and larger run): per side `smaller.` / `larger.` tensors cos.index, cos.value, cos.r, r.index,
 * r.value, r.cos ([units × k]) and inverse.start ([units + 1]), inverse.index, inverse.cos, inverse.r ([other
 * run's units]); the metadata names each side's run, its size and k. Listed in the manifest's `family` field and
 * its checksums; a store without the file has no family links.
 */
import path from "node:path";
import { encodeSafetensors, type SafetensorsTensorToSave } from "../io/safetensors.js";
import { openOptionalStoreFile } from "./store/optional-file.js";
import type { FamilySide } from "./family.js";
import type { FamilyManifest } from "./family-types.js";

export type { FamilyManifest };

export const FAMILY_FILE = "family.safetensors";

export class FamilyStoreError extends Error {
  override name = "FamilyStoreError";
}

/** The bytes of family.safetensors for these sides. */
export function encodeFamily(sides: FamilySide[]): Uint8Array {
  const tensors: Record<string, SafetensorsTensorToSave> = {};
  const metadata: Record<string, string> = {};
  for (const s of sides) {
    const p = `${s.side}.`;
    const grid = [s.cosIndex.length / s.k, s.k];
    tensors[`${p}cos.index`] = { dtype: "I32", shape: grid, data: s.cosIndex };
    tensors[`${p}cos.value`] = { dtype: "F32", shape: grid, data: s.cosValue };
    tensors[`${p}cos.r`] = { dtype: "F32", shape: grid, data: s.cosR };
    tensors[`${p}r.index`] = { dtype: "I32", shape: grid, data: s.rIndex };
    tensors[`${p}r.value`] = { dtype: "F32", shape: grid, data: s.rValue };
    tensors[`${p}r.cos`] = { dtype: "F32", shape: grid, data: s.rCos };
    tensors[`${p}inverse.start`] = { dtype: "I32", shape: [s.inverseStart.length], data: s.inverseStart };
    tensors[`${p}inverse.index`] = { dtype: "I32", shape: [s.inverseIndex.length], data: s.inverseIndex };
    tensors[`${p}inverse.cos`] = { dtype: "F32", shape: [s.inverseCos.length], data: s.inverseCos };
    tensors[`${p}inverse.r`] = { dtype: "F32", shape: [s.inverseR.length], data: s.inverseR };
    metadata[`${p}run`] = s.run;
    metadata[`${p}units`] = String(s.units);
    metadata[`${p}k`] = String(s.k);
  }
  const chunks = [...encodeSafetensors(tensors, metadata, FAMILY_FILE)];
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

export function familyManifest(sides: FamilySide[]): FamilyManifest {
  return { file: FAMILY_FILE, sides: sides.map((s) => ({ side: s.side, run: s.run, units: s.units, k: s.k })) };
}

/**
 * The family links of a store (null when it has none). `units` is the store's feature count; `sha256` the
 * manifest's checksum of the file, when it has one. Errors name the file.
 */
export function readFamily(storeDir: string, units: number, sha256?: string): FamilySide[] | null {
  const file = path.join(storeDir, FAMILY_FILE);
  const fail = (what: string) => new FamilyStoreError(`investigation ${file}: ${what}; the store is damaged, rerun saekit analyze --family`);
  const reader = openOptionalStoreFile(file, sha256, fail);
  if (!reader) return null;
  try {
    const meta = reader.metadata ?? {};
    const sides: FamilySide[] = [];
    for (const side of ["smaller", "larger"] as const) {
      const run = meta[`${side}.run`];
      if (run === undefined) continue;
      const other = Number(meta[`${side}.units`]);
      const k = Number(meta[`${side}.k`]);
      if (!(Number.isInteger(other) && other > 0 && Number.isInteger(k) && k > 0)) throw fail(`the ${side} side's units or k are not positive integers`);
      const get = <T extends Int32Array | Float32Array>(name: string, ctor: new (n: number) => T, length: number): T => {
        const v = reader.read(`${side}.${name}`);
        if (!(v instanceof ctor) || v.length !== length) throw fail(`${side}.${name} is not ${ctor.name} of ${length}`);
        return v;
      };
      const s: FamilySide = {
        side, run, units: other, k,
        cosIndex: get("cos.index", Int32Array, units * k),
        cosValue: get("cos.value", Float32Array, units * k),
        cosR: get("cos.r", Float32Array, units * k),
        rIndex: get("r.index", Int32Array, units * k),
        rValue: get("r.value", Float32Array, units * k),
        rCos: get("r.cos", Float32Array, units * k),
        inverseStart: get("inverse.start", Int32Array, units + 1),
        inverseIndex: get("inverse.index", Int32Array, other),
        inverseCos: get("inverse.cos", Float32Array, other),
        inverseR: get("inverse.r", Float32Array, other),
      };
      if (s.inverseStart[0] !== 0 || s.inverseStart[units] !== other) throw fail(`${side}.inverse.start does not span the ${other} features of ${run}`);
      sides.push(s);
    }
    return sides;
  } finally {
    reader.close();
  }
}
