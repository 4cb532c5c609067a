/** The two kinds of text saekit tracks separately (losses and feature statistics are reported per domain). */
export type Domain = "prose" | "code";

export const DOMAINS: readonly Domain[] = ["prose", "code"];

/** One unit of the corpus. The id is stable across machines and runs: splits are derived from it. */
export interface Document {
  /** e.g. "sotu/1790_george_washington_n", "brown/ca01", "moby/chapter_1", "code/json/decoder.py" */
  id: string;
  domain: Domain;
  text: string;
}

export function isDomain(value: unknown): value is Domain {
  return value === "prose" || value === "code";
}
