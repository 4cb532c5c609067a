/**
 * The browser app (`web/src/main.ts`, Chart.js included) bundled by esbuild into one IIFE script, plus the
 * stylesheet — built once per process and cached. The server serves them; `html.ts` inlines them into
 * self-contained pages.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { buildSync, transformSync } from "esbuild";

export interface AppBundle {
  /** The minified app script (an IIFE, no imports). */
  js: string;
  /** The minified stylesheet. */
  css: string;
  /** A short content hash of js + css, for cache-busting URLs. */
  version: string;
}

let cached: AppBundle | null = null;

/**
 * The package root: the nearest folder above this module with a package.json and `web/src/main.ts`. Works from
 * `src/vis/` (vitest, tsx) and from the compiled `dist/src/vis/`.
 */
export function packageRoot(from: string = path.dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (;;) {
    if (fs.existsSync(path.join(dir, "package.json")) && fs.existsSync(path.join(dir, "web", "src", "main.ts"))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`saekit: cannot find the web app (web/src/main.ts) above ${from}`);
    dir = up;
  }
}

/** The folder holding the app's sources and stylesheet. */
export function webDir(): string {
  return path.join(packageRoot(), "web");
}

/** Build (first call) or return the cached app bundle. */
export function appBundle(): AppBundle {
  if (cached) return cached;
  const root = packageRoot();
  const web = path.join(root, "web");
  const result = buildSync({
    entryPoints: [path.join(web, "src", "main.ts")],
    absWorkingDir: root,
    bundle: true,
    format: "iife",
    platform: "browser",
    target: "es2020",
    minify: true,
    write: false,
    legalComments: "none",
    charset: "utf8",
    logLevel: "silent",
    // The app's one runtime import from src/ (the name grammar); the API contract is type-only and erased. An
    // installed package has no src/, only the compiled dist/src/.
    alias: { "saekit/names": ["src/names.ts", "dist/src/names.js"].map((f) => path.join(root, f)).find((f) => fs.existsSync(f)) ?? "src/names.ts" },
  });
  const out = result.outputFiles[0];
  if (!out) throw new Error("saekit: esbuild produced no output for web/src/main.ts");
  const css = transformSync(fs.readFileSync(path.join(web, "styles.css"), "utf8"), {
    loader: "css",
    minify: true,
    target: "chrome90",
    charset: "utf8",
  }).code;
  const js = out.text;
  const version = createHash("sha256").update(js).update("\0").update(css).digest("hex").slice(0, 12);
  cached = { js, css, version };
  return cached;
}
