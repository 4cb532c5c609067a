/**
 * saekit's browser app. Live (served by `saekit serve`): routes on the path and reads /api/*. Static (a
 * self-contained HTML page): reads the JSON inlined in #saekit-data and routes on the hash.
 */
import type { StaticPageData } from "./types.js";
import { LiveSource } from "./api.js";
import { type App, pathOfLocation } from "./app.js";
import { destroyCharts, mountCharts } from "./charts.js";
import { errorBox, h } from "./dom.js";
import { header } from "./layout.js";
import { atlasPage } from "./pages/atlas.js";
import { featuresPage } from "./pages/features.js";
import { homePage } from "./pages/home.js";
import { promptPage } from "./pages/prompt.js";
import { searchPage } from "./pages/search.js";
import { unitPage } from "./pages/unit.js";
import { parseRoute, type Route } from "./router.js";
import type { DataSource } from "./source.js";
import { StaticSource } from "./static-source.js";
import { installShortcuts } from "./shortcuts.js";
import { hideTip, installTooltips } from "./tooltip.js";

function readStaticData(): StaticPageData | null {
  const el = document.getElementById("saekit-data");
  if (!el) return null;
  return JSON.parse(el.textContent ?? "null") as StaticPageData;
}

/** The route a static page shows for its own address (empty hash, "#/", or "#/prompt" without a text). */
function staticDefault(data: StaticPageData, route: Route): Route {
  if (data.page === "feature") {
    if (route.page === "home") return { page: "unit", kind: data.unit.kind, name: data.unit.name };
    return route;
  }
  if (data.page === "atlas") return route.page === "home" ? { page: "atlas", model: data.atlas.model } : route;
  const p = data.prompt;
  if (route.page === "home") return { page: "prompt", run: p.run, text: p.text, feature: null };
  if (route.page === "prompt" && !route.text) return { page: "prompt", run: p.run, text: p.text, feature: route.feature };
  return route;
}

async function buildPage(app: App, route: Route): Promise<HTMLElement> {
  switch (route.page) {
    case "home":
      return homePage(app);
    case "unit":
      return unitPage(app, route.name);
    case "prompt":
      return promptPage(app, route);
    case "search":
      return searchPage(app, route.q, route.run, route.options);
    case "features":
      return featuresPage(app, route.run, route.query);
    case "atlas":
      return atlasPage(app, route.model);
    case "notfound":
      document.title = "Not found · saekit";
      return h("div", null, h("h1", null, "Page not found"), h("p", null, `No page at ${route.path}. `, h("a", { href: app.href("/") }, "Go home")));
  }
}

function boot(): void {
  const root = document.getElementById("app") ?? document.body.appendChild(h("div", { id: "app" }));
  let data: StaticPageData | null;
  try {
    data = readStaticData();
  } catch (e) {
    root.replaceChildren(errorBox(`the page's inlined data does not parse: ${e instanceof Error ? e.message : String(e)}`));
    return;
  }
  const source: DataSource = data ? new StaticSource(data) : new LiveSource();
  const mode = source.mode;
  const app: App = {
    source,
    href: (path) => (mode === "live" ? path : `#${path}`),
    navigate(path) {
      if (mode === "live") {
        history.pushState(null, "", path);
        void render(true);
      } else {
        location.hash = path; // hashchange renders
      }
    },
    replaceUrl(path) {
      history.replaceState(null, "", mode === "live" ? path : `#${path}`);
    },
    currentRoute() {
      const { pathname, search } = pathOfLocation(mode);
      const route = parseRoute(pathname, search);
      return data ? staticDefault(data, route) : route;
    },
  };

  installTooltips();
  installShortcuts();
  const top = header(app, { promptNav: mode === "live" || data?.page === "prompt" });
  const main = h("main", { class: "content", id: "content" });
  root.replaceChildren(top.element, main);

  let seq = 0;
  async function render(scrollTop: boolean): Promise<void> {
    const mine = ++seq;
    const route = app.currentRoute();
    top.sync(route);
    destroyCharts();
    hideTip();
    main.setAttribute("aria-busy", "true");
    main.replaceChildren(h("p", { class: "loading" }, "Loading…"));
    let page: HTMLElement;
    try {
      page = await buildPage(app, route);
    } catch (e) {
      page = h("div", { class: "error-page" }, errorBox(e instanceof Error ? e.message : String(e)), h("p", null, h("a", { href: app.href("/") }, "Go home")));
    }
    if (mine !== seq) return;
    main.replaceChildren(page);
    main.removeAttribute("aria-busy");
    mountCharts();
    if (scrollTop) window.scrollTo(0, 0);
  }

  if (mode === "live") {
    window.addEventListener("popstate", () => void render(false));
    document.addEventListener("click", (ev) => {
      if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
      const a = (ev.target as Element | null)?.closest?.("a");
      if (!a || a.target || a.hasAttribute("download")) return;
      const url = new URL(a.href, location.href);
      if (url.origin !== location.origin || url.pathname.startsWith("/api/")) return;
      ev.preventDefault();
      app.navigate(url.pathname + url.search);
    });
  } else {
    window.addEventListener("hashchange", () => void render(true));
  }
  void render(false);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
else boot();
