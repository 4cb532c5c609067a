/** The header every page shares: the saekit name, nav (Home, Prompt) and the search box. */
import type { App } from "./app.js";
import { h } from "./dom.js";
import type { Route } from "./router.js";
import { searchPath } from "./router.js";

export interface Header {
  element: HTMLElement;
  /** Reflect the route: the active nav item and the current query in the search box. */
  sync(route: Route): void;
}

export function header(app: App, opts: { promptNav: boolean }): Header {
  const input = h("input", {
    type: "search",
    name: "q",
    placeholder: app.source.mode === "static" ? "Search this page's units…" : "Search: exact token (\u201c import\u201d keeps its space), label, A/1/3450…",
    "aria-label": "Search features",
    autocomplete: "off",
    spellcheck: "false",
    "data-testid": "search-input",
  });
  const form = h(
    "form",
    {
      class: "search-form",
      role: "search",
      onsubmit: (ev: SubmitEvent) => {
        ev.preventDefault();
        // Kept as typed: a leading space is part of a token (" import" is not "import").
        const q = input.value;
        if (q.length > 0) app.navigate(searchPath(q));
      },
    },
    input,
  );
  const home = h("a", { href: app.href("/"), "data-nav": "home", "data-testid": "nav-home" }, "Home");
  const prompt = opts.promptNav ? h("a", { href: app.href("/prompt"), "data-nav": "prompt", "data-testid": "nav-prompt" }, "Prompt") : null;
  const element = h(
    "header",
    { class: "topbar" },
    h(
      "div",
      { class: "topbar-inner" },
      h("a", { class: "brand", href: app.href("/") }, h("span", { class: "brand-mark" }, "◆"), "saekit"),
      h("nav", null, home, prompt),
      app.source.mode === "static"
        ? h("span", { class: "badge offline", title: "A self-contained snapshot: links to units not included need `saekit serve`" }, "offline snapshot")
        : null,
      form,
    ),
  );
  return {
    element,
    sync(route: Route) {
      home.classList.toggle("active", route.page === "home");
      prompt?.classList.toggle("active", route.page === "prompt");
      if (route.page === "search") input.value = route.q;
    },
  };
}
