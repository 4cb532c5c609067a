import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { isDomain, type Document } from "../document.js";

/**
 * Documents from a JSON Lines file, one `{"text": string, "domain"?: "prose" | "code", "id"?: string}` per line
 * (blank lines are skipped). Domain defaults to prose; id defaults to "<file name>/line_<n>". Bad lines fail
 * with the file and line number.
 */
export function loadJsonl(file: string): Document[] {
  const lines = readFileSync(file, "utf8").split("\n");
  const documents: Document[] = [];
  lines.forEach((line, index) => {
    if (line.trim().length === 0) return;
    const where = `${file}:${index + 1}`;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch (error) {
      throw new Error(`${where}: invalid JSON (${(error as Error).message})`);
    }
    if (typeof record !== "object" || record === null || Array.isArray(record)) {
      throw new Error(`${where}: expected an object like {"text": "..."}`);
    }
    const { text, domain = "prose", id = `${basename(file)}/line_${index + 1}` } = record as Record<string, unknown>;
    if (typeof text !== "string") throw new Error(`${where}: "text" must be a string`);
    if (!isDomain(domain)) throw new Error(`${where}: "domain" must be "prose" or "code", got ${JSON.stringify(domain)}`);
    if (typeof id !== "string" || id.length === 0) throw new Error(`${where}: "id" must be a non-empty string`);
    documents.push({ id, domain, text });
  });
  return documents;
}
