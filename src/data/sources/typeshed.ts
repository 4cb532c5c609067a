import type { Document } from "../document.js";
import { packageFile } from "../packageFiles.js";
import { listPackageTree, readUtf8 } from "./packageTree.js";

export const PYRIGHT_PACKAGE = "pyright";

/**
 * typeshed's Python type stubs as pyright bundles them (dist/typeshed-fallback): the standard library's and the
 * third-party packages' .pyi files, one document per file ("typeshed/stdlib/json/decoder.pyi"). Stubs are real
 * Python syntax (classes, signatures, annotations) but declarations only: function bodies are `...`.
 */
export function loadTypeshed(): Document[] {
  const root = packageFile(PYRIGHT_PACKAGE, "dist/typeshed-fallback");
  return listPackageTree(root, (path) => path.endsWith(".pyi"))
    .map((path): Document => ({ id: `typeshed/${path}`, domain: "code", text: readUtf8(`${root}/${path}`) }))
    .filter((document) => document.text.trim().length > 0);
}
