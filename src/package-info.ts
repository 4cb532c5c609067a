/** The package's own name and version, read from package.json (works from src/ and from dist/src/). */
import { readFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface PackageInfo {
  name: string;
  version: string;
  root: string;
}

let cached: PackageInfo | undefined;

export function packageInfo(): PackageInfo {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const file = join(dir, "package.json");
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, "utf8")) as { name?: string; version?: string };
      if (pkg.name === "saekit") {
        cached = { name: pkg.name, version: pkg.version ?? "0.0.0", root: dir };
        return cached;
      }
    }
    dir = dirname(dir);
  }
  throw new Error("saekit: cannot find the package's package.json");
}
