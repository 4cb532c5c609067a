/** The shipped models resolve through the companion package saekit-models (in a checkout: the models/ workspace). */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { MODELS_PACKAGE, ShippedModelsMissingError, shippedModelsRoot } from "../../src/analysis/shipped-models.js";

const scratch: string[] = [];
afterAll(() => {
  for (const dir of scratch) fs.rmSync(dir, { recursive: true, force: true });
});

/** A project folder with saekit installed in node_modules/, and saekit-models beside it when `withModels`. */
function installedProject(withModels: boolean): { project: string; saekit: string; from: string } {
  const project = fs.mkdtempSync(path.join(os.tmpdir(), "saekit-project-"));
  scratch.push(project);
  const saekit = path.join(project, "node_modules", "saekit");
  fs.mkdirSync(path.join(saekit, "dist"), { recursive: true });
  fs.writeFileSync(path.join(saekit, "package.json"), JSON.stringify({ name: "saekit", version: "0.1.0" }));
  if (withModels) {
    const models = path.join(project, "node_modules", MODELS_PACKAGE);
    fs.mkdirSync(path.join(models, "A"), { recursive: true });
    fs.writeFileSync(path.join(models, "package.json"), JSON.stringify({ name: MODELS_PACKAGE, version: "0.1.0" }));
  }
  return { project, saekit, from: path.join(saekit, "dist", "index.js") };
}

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

  it("an installed saekit finds saekit-models installed beside it", () => {
    const { project, saekit, from } = installedProject(true);
    expect(shippedModelsRoot({ from, root: saekit })).toBe(path.join(project, "node_modules", MODELS_PACKAGE));
  });

  it("without the package it says which package to install, and where", () => {
    const { project, saekit, from } = installedProject(false);
    let error: unknown;
    try {
      shippedModelsRoot({ from, root: saekit });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ShippedModelsMissingError);
    expect((error as Error).message).toContain(`in ${project}: npm install ${MODELS_PACKAGE}@`);
    expect((error as Error).message).toContain("--models DIR");
  });
});
