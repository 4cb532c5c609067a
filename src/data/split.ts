import { createHash } from "node:crypto";
import { DOMAINS, type Document, type Domain } from "./document.js";

export type Split = "train" | "validation";

export const SPLITS: readonly Split[] = ["train", "validation"];

export const DEFAULT_VALIDATION_FRACTION = 0.05;

/** Documents of each domain, divided into train and validation. */
export type SplitCorpus = Record<Domain, Record<Split, Document[]>>;

/**
 * A number in [0, 1) fixed by the document id alone (first 32 bits of its SHA-1), so a document lands in the same
 * split on every machine and run, whatever other documents the corpus holds.
 */
export function splitKey(id: string): number {
  return createHash("sha1").update(id, "utf8").digest().readUInt32BE(0) / 2 ** 32;
}

/** The split hashing assigns: validation when the document's key is below the fraction. */
export function assignSplit(id: string, validationFraction: number = DEFAULT_VALIDATION_FRACTION): Split {
  return splitKey(id) < validationFraction ? "validation" : "train";
}

/**
 * Splits prose and code separately, so each domain has its own train and validation sets. A domain with at least
 * two documents always gets both: if hashing left one side empty, the document whose key is nearest the threshold
 * moves across (still deterministic, since it depends only on the domain's ids).
 */
export function splitCorpus(documents: readonly Document[], validationFraction: number = DEFAULT_VALIDATION_FRACTION): SplitCorpus {
  if (!(validationFraction >= 0 && validationFraction <= 1)) throw new Error(`validation fraction must be in [0, 1], got ${validationFraction}`);
  const result = Object.fromEntries(DOMAINS.map((d) => [d, { train: [], validation: [] }])) as unknown as SplitCorpus;
  for (const domain of DOMAINS) {
    const keyed = documents.filter((d) => d.domain === domain).map((document) => ({ document, key: splitKey(document.id) }));
    const isValidation = new Set(keyed.filter((k) => k.key < validationFraction).map((k) => k.document));
    if (keyed.length >= 2 && isValidation.size === 0) {
      isValidation.add(keyed.reduce((a, b) => (b.key < a.key ? b : a)).document);
    } else if (keyed.length >= 2 && isValidation.size === keyed.length) {
      isValidation.delete(keyed.reduce((a, b) => (b.key > a.key ? b : a)).document);
    }
    // Corpus order is kept inside each split.
    for (const { document } of keyed) result[domain][isValidation.has(document) ? "validation" : "train"].push(document);
  }
  return result;
}
