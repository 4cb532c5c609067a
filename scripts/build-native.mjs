// The native kernels (native/, N-API) for this machine, in one of two modes:
//
//   node scripts/build-native.mjs             install script: compile with node-gyp into build/Release. When saekit is
//                                             installed as a dependency and its prebuilt binary for this platform
//                                             loads, there is nothing to compile. A failed build is not fatal: saekit
//                                             then runs on its TypeScript kernels and `saekit doctor` says why.
//   node scripts/build-native.mjs --prebuild  npm pack's prepack: compile (failure is fatal) and copy the binary to
//                                             prebuilds/<platform>-<arch>/, where node-gyp-build finds it at run time
//                                             (also when the package was installed with --ignore-scripts).
//
// One binary serves every Node version (N-API) and every x86-64 CPU: the addon picks AVX-512, AVX2 or scalar code
// at run time. SAEKIT_SKIP_NATIVE=1 skips the compile; SAEKIT_BUILD_NATIVE=1 compiles even when a prebuild loads.
import { spawnSync } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);
const prebuildMode = process.argv.includes("--prebuild");
const ADDON = "saekit_native";

/** The prebuild's folder and file name, in node-gyp-build's layout (tags: napi = any Node ABI, libc). */
function prebuildTarget() {
  const dir = join(root, "prebuilds", `${process.platform}-${process.arch}`);
  const libc = process.platform === "linux" ? (isMusl() ? ".musl" : ".glibc") : "";
  return { dir, file: join(dir, `${ADDON}.napi${libc}.node`) };
}

function isMusl() {
  // Node's own report names the glibc it runs on; musl builds have none (node-gyp-build checks /etc/alpine-release).
  const header = process.report?.getReport?.().header;
  return header ? !header.glibcVersionRuntime : existsSync("/etc/alpine-release");
}

/** node-gyp-build's choice for this package folder, if it is a prebuild that loads here. */
function loadablePrebuild() {
  try {
    const path = require("node-gyp-build").path(root);
    if (!relative(join(root, "prebuilds"), path).startsWith("..")) {
      require(path);
      return path;
    }
  } catch {
    // no prebuild for this platform, or it does not load (e.g. an older glibc): compile instead
  }
  return undefined;
}

// npm exposes its bundled node-gyp to lifecycle scripts; fall back to a node-gyp next to npm or on PATH.
function nodeGypCommand() {
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && existsSync(fromNpm)) return [process.execPath, [fromNpm]];
  const besideNode = join(dirname(process.execPath), "..", "lib", "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js");
  if (existsSync(besideNode)) return [process.execPath, [besideNode]];
  for (const spec of ["node-gyp/bin/node-gyp.js", "npm/node_modules/node-gyp/bin/node-gyp.js"]) {
    try {
      return [process.execPath, [require.resolve(spec)]];
    } catch {
      // not installed beside saekit
    }
  }
  try {
    const npmCli = require.resolve("npm/package.json");
    const candidate = join(dirname(npmCli), "node_modules", "node-gyp", "bin", "node-gyp.js");
    if (existsSync(candidate)) return [process.execPath, [candidate]];
  } catch {
    // npm is not resolvable as a module here; try PATH below.
  }
  return ["node-gyp", []];
}

// Build against the headers installed with Node itself (no download: machines here have no network).
function nodedirArgs() {
  const configured = process.env.npm_config_nodedir;
  if (configured) return [`--nodedir=${configured}`];
  const prefix = join(dirname(process.execPath), "..");
  return existsSync(join(prefix, "include", "node", "node_api.h")) ? [`--nodedir=${prefix}`] : [];
}

function compile() {
  const [cmd, pre] = nodeGypCommand();
  // In prepack mode stdout belongs to npm (`npm pack --json`): the compiler's chatter goes to stderr.
  const stdio = prebuildMode ? ["ignore", 2, 2] : "inherit";
  // node-gyp rebuild deletes build/ first and links in place: compile in a staging copy instead and rename the
  // finished binary into build/Release, so a process loading the addon meanwhile (a training run starting) finds
  // the old file or the new one, never none or half of one.
  const stage = join(root, "build", `staging-${process.pid}`);
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  try {
    copyFileSync(join(root, "binding.gyp"), join(stage, "binding.gyp"));
    cpSync(join(root, "native"), join(stage, "native"), { recursive: true });
    const result = spawnSync(cmd, [...pre, "rebuild", "--jobs=max", ...nodedirArgs()], { stdio, cwd: stage });
    if (result.error) console.warn(`saekit: could not run node-gyp: ${result.error.message}`);
    if (result.status !== 0) return false;
    const out = join(root, "build", "Release", `${ADDON}.node`);
    mkdirSync(dirname(out), { recursive: true });
    const tmp = `${out}.tmp-${process.pid}`;
    copyFileSync(join(stage, "build", "Release", `${ADDON}.node`), tmp);
    renameSync(tmp, out);
    return true;
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/** build/Release's addon when it is newer than binding.gyp and every native source (make's rule), else undefined. */
function freshBuild() {
  const built = join(root, "build", "Release", `${ADDON}.node`);
  if (!existsSync(built)) return undefined;
  const sources = [join(root, "binding.gyp"), ...readdirSync(join(root, "native", "src")).map((f) => join(root, "native", "src", f))];
  const newest = Math.max(...sources.map((f) => statSync(f).mtimeMs));
  return statSync(built).mtimeMs > newest ? built : undefined;
}

if (prebuildMode) {
  // `npm ci` has usually just compiled the same sources with the same flags: reuse that build rather than compile twice.
  const reuse = process.env.SAEKIT_BUILD_NATIVE === "1" ? undefined : freshBuild();
  if (reuse) console.error(`saekit: ${relative(root, reuse)} is newer than every native source; packing it as the prebuild`);
  else if (!compile()) {
    console.error("saekit: the prebuild needs a working node-gyp, python3, make and g++");
    process.exit(1);
  }
  const { dir, file } = prebuildTarget();
  // A copy first, beside the build (outside prebuilds/, where node-gyp-build would see it), loaded once here: a
  // binary that does not load (truncated by a concurrent build, wrong ABI) must not be packed.
  const tmp = join(root, "build", `prebuild-${process.pid}.node`);
  copyFileSync(join(root, "build", "Release", `${ADDON}.node`), tmp);
  // In a child process: a damaged binary can crash the loader rather than throw.
  const probe = spawnSync(process.execPath, ["-e", "require(process.argv[1])", tmp], { encoding: "utf8" });
  if (probe.status !== 0) {
    rmSync(tmp, { force: true });
    const why = probe.signal ? `the loader died (${probe.signal})` : probe.stderr.trim().split("\n").find((l) => /Error/.test(l)) ?? probe.stderr.trim();
    console.error(`saekit: the built addon does not load: ${why}`);
    process.exit(1);
  }
  // One file per platform folder: a stale binary under another name would compete with the new one.
  if (existsSync(dir)) for (const name of readdirSync(dir)) rmSync(join(dir, name), { force: true });
  mkdirSync(dir, { recursive: true });
  renameSync(tmp, file);
  console.error(`saekit: prebuilt ${relative(root, file)} (${(statSync(file).size / 1024).toFixed(0)} KiB)`);
  process.exit(0);
}

if (process.env.SAEKIT_SKIP_NATIVE === "1") {
  console.log("saekit: SAEKIT_SKIP_NATIVE=1, not building the native kernels");
  process.exit(0);
}

// Installed as a dependency (not a source checkout, where native/ may be newer than any prebuild): use the prebuild.
const installed = root.split(sep).includes("node_modules");
const prebuilt = installed && process.env.SAEKIT_BUILD_NATIVE !== "1" ? loadablePrebuild() : undefined;
if (prebuilt) {
  console.log(`saekit: using the prebuilt native kernels (${relative(root, prebuilt)}); nothing to compile`);
  process.exit(0);
}

if (!compile()) {
  console.warn(
    "saekit: building the native kernels failed; saekit will use its pure TypeScript backend (slower). " +
      "Install python3, make and g++ and run `npm rebuild saekit` to retry.",
  );
}
