import type { Document } from "../document.js";
import { packageFile } from "../packageFiles.js";
import { listPackageTree, readUtf8 } from "./packageTree.js";

export const NODE_GYP_PACKAGE = "node-gyp";

/** GYP, the Python build-file generator node-gyp ships (its gyp/ folder): one document per .py file ("gyp/pylib/gyp/input.py"). */
export function loadGyp(): Document[] {
  const root = packageFile(NODE_GYP_PACKAGE, "gyp");
  return listPackageTree(root, (path) => path.endsWith(".py"))
    .map((path): Document => ({ id: `gyp/${path}`, domain: "code", text: readUtf8(`${root}/${path}`) }))
    .filter((document) => document.text.trim().length > 0);
}
