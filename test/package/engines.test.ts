/**
 * package.json "engines" must be true to the dependency tree: every Node version saekit declares must satisfy the
 * engines range of every package in package-lock.json. A dependency that raises its floor fails this test until the
 * declared range (and README's "Node versions") follows.
 */
import fs from "node:fs";
import { fileURLToPath } from "node:url";
import semver from "semver";
import { describe, expect, it } from "vitest";

const readJson = (file: string) => JSON.parse(fs.readFileSync(fileURLToPath(new URL(file, import.meta.url)), "utf8")) as Record<string, unknown>;
const pkg = readJson("../../package.json") as { engines: { node: string }; devDependencies: Record<string, string> };
const lock = readJson("../../package-lock.json") as { packages: Record<string, { engines?: { node?: string } | string[] }> };

describe("engines", () => {
  const declared = pkg.engines.node;

  it("declares the current LTS lines (22 and 24), not Node 20 (end of life)", () => {
    expect(semver.validRange(declared)).not.toBeNull();
    expect(semver.satisfies("22.12.0", declared)).toBe(true);
    expect(semver.satisfies("24.0.0", declared)).toBe(true);
    expect(semver.satisfies("20.20.0", declared)).toBe(false);
    // the Node typings match the oldest supported line, so an API newer than it does not typecheck
    expect(semver.minVersion(pkg.devDependencies["@types/node"]!)!.major).toBe(semver.minVersion(declared)!.major);
  });

  it("every locked package accepts every declared Node version", () => {
    const conflicts: string[] = [];
    for (const [name, entry] of Object.entries(lock.packages)) {
      const range = !Array.isArray(entry.engines) ? entry.engines?.node : undefined;
      if (!range || name === "") continue;
      if (!semver.subset(declared, range, { includePrerelease: false })) conflicts.push(`${name} needs node ${range}`);
    }
    expect(conflicts).toEqual([]);
  });
});
