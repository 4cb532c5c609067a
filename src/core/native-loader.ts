/**
 * Finds the native addon (native/, an N-API module) the way prebuild-based packages do, through node-gyp-build:
 * a build made on this machine (build/Release: `npm install`'s compile or `node scripts/build-native.mjs`) wins,
 * else the binary shipped for this platform in prebuilds/<platform>-<arch>/ (the published package carries
 * linux-x64 for glibc, built by `npm pack`'s prepack). N-API keeps one binary valid across Node versions; the
 * instruction set (AVX-512 / AVX2 / scalar) is chosen inside the addon at run time, so one binary fits any x86-64.
 */
import { createRequire } from "node:module";
import { dirname, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { packageInfo } from "../package-info.js";

/** Where the loaded addon came from. */
export type AddonOrigin = "built here" | "prebuilt";

export interface AddonLocation {
  path: string;
  origin: AddonOrigin;
}

const require = createRequire(import.meta.url);

/** The saekit package root (holds package.json named "saekit"), from src/core or dist/src/core. */
export function packageRoot(): string | undefined {
  try {
    return packageInfo().root;
  } catch {
    return undefined;
  }
}

/** The addon file to load from a package folder (saekit's own by default), or why there is none (a sentence a user can act on). */
export function locateAddon(root: string | undefined = packageRoot()): { location: AddonLocation } | { error: string } {
  if (!root) return { error: "cannot find saekit's package.json above " + dirname(fileURLToPath(import.meta.url)) };
  let resolvePath: (dir: string) => string;
  try {
    resolvePath = (require("node-gyp-build") as { path: (dir: string) => string }).path;
  } catch (e) {
    return { error: `the node-gyp-build package is not installed (${(e as Error).message.split("\n")[0]})` };
  }
  let path: string;
  try {
    path = resolvePath(root);
  } catch {
    return {
      error:
        `no addon built here (build/Release) and no prebuilt binary for ${process.platform}-${process.arch} in prebuilds/ ` +
        "(install python3, make and g++, then run `npm rebuild saekit`)",
    };
  }
  const inside = relative(root, path);
  const builtHere = inside.startsWith(`build${sep}`);
  return { location: { path, origin: builtHere ? "built here" : "prebuilt" } };
}
