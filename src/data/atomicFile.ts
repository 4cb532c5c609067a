import { randomBytes } from "node:crypto";
import { renameSync, rmSync, writeFileSync } from "node:fs";

/**
 * Writes a file so that readers see either the old state or the complete new file, never a partial one: the data
 * goes to a uniquely named temporary file in the same folder, which is then renamed over the target.
 */
export function writeFileAtomic(path: string, data: string | NodeJS.ArrayBufferView): void {
  const temporary = `${path}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    writeFileSync(temporary, data);
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
}
