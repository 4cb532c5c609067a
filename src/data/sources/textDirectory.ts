import { readdirSync, readFileSync } from "node:fs";
import { basename, extname, join, resolve } from "node:path";
import type { Document, Domain } from "../document.js";

const PROSE_EXTENSIONS = new Set([".txt", ".md"]);
const CODE_EXTENSIONS = new Set([
  ".py", ".js", ".mjs", ".cjs", ".ts", ".mts", ".cts", ".jsx", ".tsx", ".c", ".h", ".cc", ".cpp", ".cxx", ".hpp",
  ".rs", ".go", ".java", ".kt", ".scala", ".rb", ".php", ".swift", ".cs", ".sh", ".lua", ".r", ".jl", ".hs", ".ml", ".sql",
]);
// Dependency and VCS folders are someone else's files, not the user's corpus.
const SKIPPED_FOLDERS = new Set(["node_modules", "__pycache__"]);

/** The domain a file's extension puts it in, or undefined for files that are not read (data, binaries, ...). */
export function domainOfFile(path: string): Domain | undefined {
  const extension = extname(path).toLowerCase();
  if (PROSE_EXTENSIONS.has(extension)) return "prose";
  if (CODE_EXTENSIONS.has(extension)) return "code";
  return undefined;
}

/**
 * Every prose (.txt, .md) and code file under `dir`, recursively, in sorted path order; hidden and dependency
 * folders are skipped, as are empty files. Ids are "<folder name>/<path relative to it>" so they do not depend
 * on where the folder sits on disk.
 */
export function loadTextDirectory(dir: string): Document[] {
  const root = resolve(dir);
  const prefix = basename(root);
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const documents: Document[] = [];

  const walk = (relative: string): void => {
    const entries = readdirSync(join(root, relative), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (entry.name.startsWith(".")) continue;
      const path = relative === "" ? entry.name : `${relative}/${entry.name}`;
      if (entry.isDirectory()) {
        if (!SKIPPED_FOLDERS.has(entry.name)) walk(path);
        continue;
      }
      const domain = entry.isFile() ? domainOfFile(entry.name) : undefined;
      if (domain === undefined) continue;
      let text: string;
      try {
        text = decoder.decode(readFileSync(join(root, path)));
      } catch (error) {
        throw new Error(`${join(root, path)}: not valid UTF-8 text (${(error as Error).message})`);
      }
      if (text.trim().length > 0) documents.push({ id: `${prefix}/${path}`, domain, text });
    }
  };
  walk("");
  return documents;
}
