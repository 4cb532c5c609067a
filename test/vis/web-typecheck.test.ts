/** The browser app (web/src, DOM types) is outside the root tsconfig: typecheck it with its own. */
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

it("web/src typechecks (tsc -p web/tsconfig.json)", () => {
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  let output = "";
  try {
    execFileSync(process.execPath, [tsc, "-p", path.join(root, "web", "tsconfig.json"), "--noEmit"], { cwd: root, encoding: "utf8" });
  } catch (e) {
    output = String((e as { stdout?: string }).stdout ?? e);
  }
  expect(output).toBe("");
});
