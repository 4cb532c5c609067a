import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

// Resolving through the package (rather than a path relative to this file) works the same from src/ under
// vitest and from the compiled dist/, and wherever npm placed the dependency.
const require = createRequire(import.meta.url);

/** Absolute path of the folder an installed npm package lives in. */
export function packageDir(packageName: string): string {
  try {
    return dirname(require.resolve(`${packageName}/package.json`));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ERR_PACKAGE_PATH_NOT_EXPORTED") throw error;
  }
  // Some packages' "exports" hide package.json: find it above the package's entry point instead.
  for (let dir = dirname(require.resolve(packageName)); dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, "utf8")) as { name?: unknown }).name === packageName) return dir;
  }
  throw new Error(`cannot find the folder of package ${packageName}`);
}

/** Absolute path of a file shipped inside an installed npm package. */
export function packageFile(packageName: string, relativePath: string): string {
  return join(packageDir(packageName), relativePath);
}

/** The installed version, recorded in manifests so cached data says exactly what it was built from. */
export function packageVersion(packageName: string): string {
  const manifest = JSON.parse(readFileSync(packageFile(packageName, "package.json"), "utf8")) as { version?: unknown };
  if (typeof manifest.version !== "string") throw new Error(`${packageName}/package.json has no version`);
  return manifest.version;
}
