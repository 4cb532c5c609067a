/**
 * The optional safetensors files a feature store may hold beside its core files (atlas.safetensors,
 * family.safetensors): absent in stores written without them, checked against the manifest's SHA-256 when present.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import { openSafetensors, type SafetensorsReader } from "../../io/safetensors.js";

/**
 * Opens `file`, or returns null when the store has none. A checksum mismatch or an unreadable file throws
 * `fail(what)`, the caller's error naming the file and how to rebuild it.
 */
export function openOptionalStoreFile(file: string, sha256: string | undefined, fail: (what: string) => Error): SafetensorsReader | null {
  if (!fs.existsSync(file)) return null;
  if (sha256 !== undefined && crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex") !== sha256) {
    throw fail("its SHA-256 differs from the manifest's checksum");
  }
  try {
    return openSafetensors(file);
  } catch (e) {
    throw fail((e as Error).message);
  }
}
