/** The shipped models resolve through the companion package saekit-models (in a checkout: the models/ workspace). */
import fs from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { MODELS_PACKAGE, shippedModelsRoot } from "../../src/analysis/shipped-models.js";

describe("shippedModelsRoot", () => {
  it("is the checkout's models/ folder, the saekit-models package", () => {
    const root = shippedModelsRoot();
    expect(fs.realpathSync(root)).toBe(fs.realpathSync(fileURLToPath(new URL("../../models", import.meta.url))));
    const pkg = JSON.parse(fs.readFileSync(`${root}/package.json`, "utf8")) as { name: string; version: string; files: string[] };
    expect(pkg.name).toBe(MODELS_PACKAGE);
    // released together: the models package carries saekit's version
    const own = JSON.parse(fs.readFileSync(fileURLToPath(new URL("../../package.json", import.meta.url)), "utf8")) as { version: string; workspaces: string[] };
    expect(pkg.version).toBe(own.version);
    expect(own.workspaces).toEqual(["models"]);
    expect(fs.existsSync(`${root}/A/1/investigation/manifest.json`)).toBe(true);
  });
});
