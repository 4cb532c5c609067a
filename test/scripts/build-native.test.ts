/**
 * scripts/build-native.mjs in the two situations a compiler is not wanted: an installed package whose prebuilt
 * addon loads (the install script compiles nothing), and a prepack whose build does not load (nothing is packed).
 * Runs the script in scratch package folders with the addon this checkout built.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const repo = fileURLToPath(new URL("../../", import.meta.url));
const built = path.join(repo, "build", "Release", "saekit_native.node");
const libc = process.platform === "linux" ? (fs.existsSync("/etc/alpine-release") ? ".musl" : ".glibc") : "";
const prebuild = path.join("prebuilds", `${process.platform}-${process.arch}`, `saekit_native.napi${libc}.node`);

const scratch: string[] = [];
afterAll(() => {
  for (const dir of scratch) fs.rmSync(dir, { recursive: true, force: true });
});

/** saekit's install-relevant files in `dir`, with node-gyp-build linked from this checkout. */
function packageAt(dir: string): string {
  fs.mkdirSync(path.join(dir, "scripts"), { recursive: true });
  fs.mkdirSync(path.join(dir, "node_modules"), { recursive: true });
  fs.copyFileSync(path.join(repo, "scripts", "build-native.mjs"), path.join(dir, "scripts", "build-native.mjs"));
  fs.copyFileSync(path.join(repo, "binding.gyp"), path.join(dir, "binding.gyp"));
  fs.cpSync(path.join(repo, "native"), path.join(dir, "native"), { recursive: true });
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "saekit", version: "0.0.0" }));
  fs.symlinkSync(path.join(repo, "node_modules", "node-gyp-build"), path.join(dir, "node_modules", "node-gyp-build"));
  return dir;
}

function run(dir: string, ...args: string[]) {
  const env = { ...process.env, SAEKIT_BUILD_NATIVE: "", SAEKIT_SKIP_NATIVE: "" };
  return spawnSync(process.execPath, [path.join(dir, "scripts", "build-native.mjs"), ...args], { encoding: "utf8", env });
}

describe.skipIf(!fs.existsSync(built))("build-native.mjs", () => {
  it("installed as a dependency with a prebuild that loads, the install script compiles nothing", () => {
    const project = fs.mkdtempSync(path.join(os.tmpdir(), "saekit-install-"));
    scratch.push(project);
    const pkg = packageAt(path.join(project, "node_modules", "saekit"));
    fs.mkdirSync(path.dirname(path.join(pkg, prebuild)), { recursive: true });
    fs.copyFileSync(built, path.join(pkg, prebuild));
    const r = run(pkg);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`using the prebuilt native kernels (${prebuild}); nothing to compile`);
    expect(fs.existsSync(path.join(pkg, "build"))).toBe(false);
  });

  it("--prebuild refuses a build that does not load and packs nothing", () => {
    const pkg = packageAt(fs.mkdtempSync(path.join(os.tmpdir(), "saekit-prepack-")));
    scratch.push(pkg);
    fs.mkdirSync(path.join(pkg, "build", "Release"), { recursive: true });
    const truncated = path.join(pkg, "build", "Release", "saekit_native.node");
    fs.writeFileSync(truncated, fs.readFileSync(built).subarray(0, 1000));
    const later = new Date(Date.now() + 60_000); // newer than every source: the script reuses it instead of compiling
    fs.utimesSync(truncated, later, later);
    const r = run(pkg, "--prebuild");
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/packing it as the prebuild[\s\S]*the built addon does not load/);
    expect(fs.existsSync(path.join(pkg, "prebuilds"))).toBe(false);
  });

  it("--prebuild packs a build that loads into prebuilds/<platform>-<arch>/", () => {
    const pkg = packageAt(fs.mkdtempSync(path.join(os.tmpdir(), "saekit-prepack-")));
    scratch.push(pkg);
    fs.mkdirSync(path.join(pkg, "build", "Release"), { recursive: true });
    const copy = path.join(pkg, "build", "Release", "saekit_native.node");
    fs.copyFileSync(built, copy);
    const later = new Date(Date.now() + 60_000);
    fs.utimesSync(copy, later, later);
    const r = run(pkg, "--prebuild");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(""); // npm pack --json owns stdout
    expect(fs.readFileSync(path.join(pkg, prebuild)).equals(fs.readFileSync(built))).toBe(true);
  });
});
