/**
 * Where the shipped default models are (A, B, their SAE runs and investigations: what `saekit demo` serves and
 * what `serve`, `dashboard` and `investigate` open without --models). They are a companion package, saekit-models,
 * so that the library itself stays small: installed beside saekit (`npm install saekit saekit-models`) it resolves
 * like any dependency; in a source checkout `models/` is that package (an npm workspace, linked by `npm ci`), and
 * `models/` beside package.json also serves when the link is absent.
 */
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { packageInfo } from "../package-info.js";

/** The companion package's npm name. */
export const MODELS_PACKAGE = "saekit-models";

/** The shipped models are neither installed nor in the source checkout. */
export class ShippedModelsMissingError extends Error {
  override name = "ShippedModelsMissingError";
}

/**
 * The root folder of the shipped models (holds A/ and B/). `from` (a module URL or path the package is resolved
 * from) and `root` (saekit's package folder) default to this installation; tests give a scratch layout.
 */
export function shippedModelsRoot(where: { from?: string; root?: string } = {}): string {
  try {
    // Resolved from saekit's own location, so it finds the package beside saekit whatever the working directory.
    return path.dirname(createRequire(where.from ?? import.meta.url).resolve(`${MODELS_PACKAGE}/package.json`));
  } catch {
    // not installed: try the source checkout below
  }
  const root = where.root ?? packageInfo().root;
  const checkout = path.join(root, "models");
  if (fs.existsSync(path.join(checkout, "package.json"))) return checkout;
  // node_modules/saekit → the project folder it was installed into
  const parts = root.split(path.sep);
  const at = parts.lastIndexOf("node_modules");
  const project = at > 0 ? parts.slice(0, at).join(path.sep) : root;
  throw new ShippedModelsMissingError(
    `the shipped models are not installed: they come in the companion package ${MODELS_PACKAGE}; ` +
      `install it beside saekit (in ${project}: npm install ${MODELS_PACKAGE}@${packageInfo().version}), ` +
      "or pass --models DIR to use your own runs",
  );
}
