/**
 * HTML for the dashboards: the app shell the server sends for every page URL, and self-contained pages (CSS, JS
 * with Chart.js, and the data all inlined) that render offline from a file:// URL.
 */
import type { StaticPageData } from "./api-types.js";
import { appBundle } from "./bundle.js";

/** Where the server serves the bundle (`appBundle().js` / `.css`); the shell asks for them with `?v=version`. */
export const APP_JS_PATH = "/app.js";
export const APP_CSS_PATH = "/app.css";

/** Escape text for HTML content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/** JSON for a `<script type="application/json">`: every `<` escaped so no text inside can close the element. */
export function jsonForScript(data: unknown): string {
  return JSON.stringify(data)
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

/** Script text safe inside `<script>…</script>` (no `</script` or `<!--` sequence). */
function scriptText(js: string): string {
  return js.replace(/<\/(script)/gi, "<\\/$1").replace(/<!--/g, "<\\!--");
}

/** Stylesheet text safe inside `<style>…</style>`. */
function styleText(css: string): string {
  return css.replace(/<\/(style)/gi, "<\\/$1");
}

const HEAD = `<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="saekit">
<link rel="icon" href="data:,">`;

/**
 * The HTML the server returns for every app URL (`/`, `/feature/…`, `/neuron/…`, `/prompt`, `/search`): the app
 * routes on the path itself. It references the bundle at APP_JS_PATH and APP_CSS_PATH.
 */
export function appShellHtml(options: { title?: string } = {}): string {
  const { version } = appBundle();
  const title = escapeHtml(options.title ?? "saekit");
  return `<!doctype html>
<html lang="en">
<head>
${HEAD}
<title>${title}</title>
<link rel="stylesheet" href="${APP_CSS_PATH}?v=${version}">
<script src="${APP_JS_PATH}?v=${version}" defer></script>
</head>
<body>
<div id="app"><noscript>saekit's dashboards need JavaScript.</noscript></div>
</body>
</html>
`;
}

/**
 * One self-contained HTML file for a feature (or neuron) page or a prompt page: no external URL, renders offline in
 * any browser. Links to units not inlined show as text ("open with saekit serve").
 */
export function renderStaticPage(data: StaticPageData, title: string): string {
  const { js, css } = appBundle();
  return `<!doctype html>
<html lang="en">
<head>
${HEAD}
<title>${escapeHtml(title)}</title>
<style>${styleText(css)}</style>
</head>
<body>
<div id="app"><noscript>saekit's dashboards need JavaScript.</noscript></div>
<script type="application/json" id="saekit-data">${jsonForScript(data)}</script>
<script>${scriptText(js)}</script>
</body>
</html>
`;
}
