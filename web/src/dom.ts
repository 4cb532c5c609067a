/** A tiny element builder: h("div", { class: "x", onclick: fn }, "text", child). */

export type Child = Node | string | number | null | undefined | false | Child[];
export type AttrValue = string | number | boolean | null | undefined | ((ev: never) => void);
export type Attrs = Record<string, AttrValue>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs?: Attrs | null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (typeof value === "function") {
        el.addEventListener(key.replace(/^on/, ""), value as EventListener);
      } else if (key === "class") {
        el.className = String(value);
      } else if (value === true) {
        el.setAttribute(key, "");
      } else {
        el.setAttribute(key, String(value));
      }
    }
  }
  append(el, children);
  return el;
}

export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else if (child instanceof Node) parent.appendChild(child);
    else parent.appendChild(document.createTextNode(String(child)));
  }
}

/** A titled panel: `<section class="panel" data-testid=…><h2>title</h2>…</section>`. */
export function panel(testid: string, title: string, ...children: Child[]): HTMLElement {
  return h("section", { class: "panel", "data-testid": testid }, h("h2", null, title), ...children);
}

/** A row of big numbers with captions. */
export function stats(items: { label: string; value: string; title?: string; testid?: string }[]): HTMLElement {
  return h(
    "div",
    { class: "stats" },
    items.map((it) =>
      h(
        "div",
        { class: "stat", title: it.title, "data-testid": it.testid },
        h("div", { class: "stat-value" }, it.value),
        h("div", { class: "stat-label" }, it.label),
      ),
    ),
  );
}

export function note(text: Child, cls = "note"): HTMLElement {
  return h("p", { class: cls }, text);
}

export function errorBox(message: string): HTMLElement {
  return h("div", { class: "error", role: "alert", "data-testid": "error" }, h("strong", null, "Error: "), message);
}
