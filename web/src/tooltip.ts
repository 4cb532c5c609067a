/**
 * One floating details panel for tokens (instead of `title` tooltips): shown beside the token under the pointer or
 * with keyboard focus, built on demand from the content registered for that element, hidden with Escape. Works
 * the same in the served app and the self-contained pages.
 */
import type { Child } from "./dom.js";
import { append, h } from "./dom.js";

const content = new WeakMap<Element, () => Child>();
let panel: HTMLElement | null = null;
let owner: HTMLElement | null = null;
let installed = false;

/** Gives `el` a details panel; `build` runs each time it opens. */
export function setTip(el: HTMLElement, build: () => Child): void {
  content.set(el, build);
  el.classList.add("has-tip");
}

function tipTarget(node: EventTarget | null): HTMLElement | null {
  let el = node instanceof Element ? node : null;
  while (el && !content.has(el)) el = el.parentElement;
  return el as HTMLElement | null;
}

/** Opens the panel for `el` (a no-op for an element without details). */
export function showTip(el: HTMLElement): void {
  const build = content.get(el);
  if (!build) return;
  if (!panel) {
    panel = h("div", { class: "tooltip", id: "token-tooltip", role: "tooltip", "data-testid": "token-tooltip" });
    document.body.append(panel);
  }
  if (owner && owner !== el) owner.removeAttribute("aria-describedby");
  owner = el;
  panel.replaceChildren();
  append(panel, [build()]);
  panel.hidden = false;
  el.setAttribute("aria-describedby", "token-tooltip");
  // Below the token, kept inside the viewport; above it when there is no room below.
  const r = el.getBoundingClientRect();
  const w = panel.offsetWidth;
  const ht = panel.offsetHeight;
  const left = Math.max(8, Math.min(r.left, document.documentElement.clientWidth - w - 8));
  const below = r.bottom + 6;
  const top = below + ht > window.innerHeight - 4 && r.top - ht - 6 > 0 ? r.top - ht - 6 : below;
  panel.style.left = `${left + window.scrollX}px`;
  panel.style.top = `${top + window.scrollY}px`;
}

export function hideTip(): void {
  if (panel) panel.hidden = true;
  owner?.removeAttribute("aria-describedby");
  owner = null;
}

/** The document-wide listeners (once). */
export function installTooltips(): void {
  if (installed) return;
  installed = true;
  document.addEventListener("mouseover", (ev) => {
    const el = tipTarget(ev.target);
    if (el && el !== owner) showTip(el);
  });
  document.addEventListener("mouseout", (ev) => {
    const from = tipTarget(ev.target);
    if (from && from === owner && tipTarget(ev.relatedTarget) !== from && document.activeElement !== from) hideTip();
  });
  document.addEventListener("focusin", (ev) => {
    const el = tipTarget(ev.target);
    if (el) showTip(el);
    else hideTip();
  });
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && owner) hideTip();
  });
  window.addEventListener("scroll", () => owner && document.activeElement !== owner && hideTip(), { passive: true });
}

/** A two-column list of figures for a tooltip: [label, value] rows. */
export function tipTable(title: Child, rows: [string, Child][]): HTMLElement {
  return h(
    "div",
    null,
    h("div", { class: "tip-title" }, title),
    h("table", { class: "tip-rows" }, h("tbody", null, rows.map(([k, v]) => h("tr", null, h("th", null, k), h("td", null, v))))),
  );
}
