/** Where the native addon is found: a build made here wins over the package's prebuilt binary; neither is an error that says what to do. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { locateAddon, packageRoot } from "../../src/core/native-loader.js";

const scratch: string[] = [];
afterAll(() => {
  for (const dir of scratch) fs.rmSync(dir, { recursive: true, force: true });
});

/** A package folder holding the given files (empty contents: locating never loads them). */
function packageWith(files: string[]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "saekit-addon-"));
  scratch.push(dir);
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "saekit", version: "0.0.0" }));
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), "");
  }
  return dir;
}

const platformDir = `prebuilds/${process.platform}-${process.arch}`;
const libcTag = process.platform === "linux" ? (fs.existsSync("/etc/alpine-release") ? ".musl" : ".glibc") : "";
const prebuild = `${platformDir}/saekit_native.napi${libcTag}.node`;

describe("locateAddon", () => {
  it("finds saekit's own package folder", () => {
    const root = packageRoot();
    expect(root).toBeDefined();
    expect(JSON.parse(fs.readFileSync(path.join(root!, "package.json"), "utf8")).name).toBe("saekit");
  });

  it("takes the prebuilt binary for this platform when nothing was built here", () => {
    const dir = packageWith([prebuild, "prebuilds/other-arch/saekit_native.napi.node"]);
    expect(locateAddon(dir)).toEqual({ location: { origin: "prebuilt", path: path.join(dir, prebuild) } });
  });

  it("prefers a build made on this machine", () => {
    const dir = packageWith([prebuild, "build/Release/saekit_native.node"]);
    expect(locateAddon(dir)).toEqual({ location: { origin: "built here", path: path.join(dir, "build/Release/saekit_native.node") } });
  });

  it("says why there is none: no build here and no prebuild for this platform", () => {
    const dir = packageWith(["prebuilds/other-arch/saekit_native.napi.node"]);
    const found = locateAddon(dir);
    expect("error" in found && found.error).toMatch(
      new RegExp(`no addon built here .* no prebuilt binary for ${process.platform}-${process.arch} .*npm rebuild saekit`),
    );
  });
});

describe("doctor", () => {
  it("says where the addon came from", async () => {
    const { doctorReport, formatDoctor } = await import("../../src/cli/doctor.js");
    const report = doctorReport();
    const addon = report.backend.addon;
    const line = formatDoctor(report).split("\n").find((l) => l.startsWith("native addon:"));
    if (addon.origin === "missing") {
      expect(report.backend.name).toBe("js");
      expect(line).toBe(`native addon:  missing: ${addon.error}`);
    } else {
      expect(line).toMatch(new RegExp(`^native addon:  ${addon.origin} \\((build|prebuilds)/.+\\.node\\)$`));
      if (report.backend.name === "native") expect(addon.error).toBeUndefined();
    }
  });
});
