import { readFileSync } from "node:fs";
import type { Document } from "../document.js";
import { packageFile } from "../packageFiles.js";
import { listZipEntries, readZipEntry } from "../zip.js";

export const PYODIDE_PACKAGE = "pyodide";

/**
 * The CPython standard library's Python source, from pyodide's python_stdlib.zip: one document per .py file
 * ("code/json/decoder.py"), in archive order. Everything else in the archive (folders, data files) is skipped.
 */
export function loadPythonStdlib(): Document[] {
  const archive = readFileSync(packageFile(PYODIDE_PACKAGE, "python_stdlib.zip"));
  const decoder = new TextDecoder("utf-8", { fatal: true });
  return listZipEntries(archive)
    .filter((entry) => entry.name.endsWith(".py"))
    .map((entry) => ({ id: `code/${entry.name}`, domain: "code", text: decoder.decode(readZipEntry(archive, entry)) }));
}
