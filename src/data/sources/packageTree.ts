import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * Every file under `root` whose path (relative, "/"-separated) passes `keep`, in sorted path order, so sources that
 * read a package's folder produce the same documents in the same order on every machine.
 */
export function listPackageTree(root: string, keep: (relativePath: string) => boolean): string[] {
  const files: string[] = [];
  const walk = (relative: string): void => {
    const entries = readdirSync(join(root, relative), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const path = relative === "" ? entry.name : `${relative}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() && keep(path)) files.push(path);
    }
  };
  walk("");
  return files;
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/** A package file as UTF-8 text; a file that is not valid UTF-8 fails with its path. */
export function readUtf8(path: string): string {
  try {
    return decoder.decode(readFileSync(path));
  } catch (error) {
    throw new Error(`${path}: not valid UTF-8 (${(error as Error).message})`);
  }
}
