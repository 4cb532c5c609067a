/** What every page gets: the data source and URL helpers that work the same live and in a static file. */
import { type Child, h } from "./dom.js";
import { type Route, splitPath, unitPath } from "./router.js";
import { type DataSource, OFFLINE_HINT } from "./source.js";

export interface App {
  readonly source: DataSource;
  /** The href of an in-app path: the path itself live, "#path" in a static page. */
  href(path: string): string;
  /** Go to an in-app path (a new history entry) and render it. */
  navigate(path: string): void;
  /** Change the URL without rendering again (page state such as the prompt's selected feature). */
  replaceUrl(path: string): void;
  /** The route the address bar points at. */
  currentRoute(): Route;
}

/** A link to a unit's page, or (static page, unit not inlined) its name as text with a tooltip. */
export function unitLink(app: App, name: string, testid: string, text: Child = name): HTMLElement {
  if (app.source.canOpen(name)) {
    return h("a", { href: app.href(unitPath(name)), "data-testid": testid, class: "unit-link" }, text);
  }
  return h("span", { class: "unit-link offline", title: OFFLINE_HINT, "data-testid": testid, "data-unit": name }, text);
}

export function pathOfLocation(mode: "live" | "static"): { pathname: string; search: string } {
  if (mode === "live") return { pathname: location.pathname, search: location.search };
  const hash = location.hash.replace(/^#/, "");
  return splitPath(hash.length > 0 ? hash : "");
}
