import type { Document } from "../document.js";
import { packageFile } from "../packageFiles.js";
import { listPackageTree, readUtf8 } from "./packageTree.js";

export const PYGMENTIZE_PACKAGE = "pygmentize-bundled";

// The package holds the Pygments tree three times (the source and two 2to3 build copies): only the source is read.
// Generated keyword tables (lexers/_*.py, unistring.py) are long lists of strings and character ranges, not code
// anyone wrote, so they are left out.
const GENERATED = /(^|\/)(_[a-z0-9_]+builtins|_mapping|_stan|unistring)\.py$/;

/** Pygments (the syntax highlighter's Python source, 2014) from pygmentize-bundled: one document per .py file ("pygments/pygments/lexer.py"). */
export function loadPygments(): Document[] {
  const root = packageFile(PYGMENTIZE_PACKAGE, "vendor/pygments");
  return listPackageTree(root, (path) => path.endsWith(".py") && !path.startsWith("build-") && !GENERATED.test(path))
    .map((path): Document => ({ id: `pygments/${path}`, domain: "code", text: readUtf8(`${root}/${path}`) }))
    .filter((document) => document.text.trim().length > 0);
}
