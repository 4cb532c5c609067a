// Builds the C++ kernels with node-gyp at install time. A failed build is not fatal: saekit then runs on its
// pure TypeScript kernels and says so once at first use (see src/core/backend.ts).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

if (process.env.SAEKIT_SKIP_NATIVE === "1") {
  console.log("saekit: SAEKIT_SKIP_NATIVE=1, not building the native kernels");
  process.exit(0);
}

// npm exposes its bundled node-gyp to lifecycle scripts; fall back to a node-gyp next to npm or on PATH.
function nodeGypCommand() {
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && existsSync(fromNpm)) return [process.execPath, [fromNpm]];
  const besideNode = join(dirname(process.execPath), "..", "lib", "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js");
  if (existsSync(besideNode)) return [process.execPath, [besideNode]];
  try {
    const npmCli = createRequire(import.meta.url).resolve("npm/package.json");
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

const [cmd, pre] = nodeGypCommand();
const result = spawnSync(cmd, [...pre, "rebuild", ...nodedirArgs()], { stdio: "inherit" });
if (result.status !== 0) {
  if (result.error) console.warn(`saekit: could not run node-gyp: ${result.error.message}`);
  console.warn(
    "saekit: building the native kernels failed; saekit will use its pure TypeScript backend (slower). " +
      "Install python3, make and g++ and run `npm rebuild saekit` to retry.",
  );
}
