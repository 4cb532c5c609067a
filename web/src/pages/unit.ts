/** The feature page and the neuron page: one renderer, the neuron page just has no neuron panel. */
import type { UnitRecord } from "../types.js";
import type { App } from "../app.js";
import { h } from "../dom.js";
import { density, fmt, int } from "../format.js";
import { promptPath, unitPath } from "../router.js";
import { activationsPanel, proxyPanel } from "./unit-activity.js";
import { interpretabilityPanel } from "./unit-interpretability.js";
import { ablationPanel, examplesPanel, intervalsPanel } from "./unit-examples.js";
import { logitsPanel } from "./unit-logits.js";
import { comparePanel, neuronsPanel } from "./unit-relations.js";
import { relatedPanels } from "./unit-related.js";
import { steerPanel } from "./steer-panel.js";
import { familyPanel } from "./unit-family.js";

export async function unitPage(app: App, name: string): Promise<HTMLElement> {
  const u = await app.source.unit(name);
  document.title = `${u.name} · ${u.label} · saekit`;
  return renderUnit(app, u);
}

/** Links to the previous and next unit of the run. */
function neighbours(app: App, run: string, index: number): HTMLElement {
  const link = (i: number, text: string, testid: string) =>
    h("a", { href: app.href(unitPath(`${run}/${i}`)), "data-testid": testid, title: `${run}/${i} (key ${testid === "unit-prev" ? "k or [" : "j or ]"})`, "aria-keyshortcuts": testid === "unit-prev" ? "k [" : "j ]" }, text);
  return h("span", { class: "neighbours" }, index > 0 ? link(index - 1, `← ${index - 1}`, "unit-prev") : null, link(index + 1, `${index + 1} →`, "unit-next"));
}

export function renderUnit(app: App, u: UnitRecord): HTMLElement {
  const run = u.name.slice(0, u.name.lastIndexOf("/"));
  const header = h(
    "header",
    { class: "unit-header" },
    h(
      "h1",
      { "data-testid": "unit-name" },
      h("span", { class: "unit-id" }, u.name),
      h("span", { class: "unit-label" }, u.label),
    ),
    h(
      "div",
      { class: "unit-meta" },
      h("span", { class: `badge ${u.kind}` }, u.kind === "feature" ? `SAE feature · run ${run}` : "MLP neuron"),
      h("span", null, `density ${density(u.density)}`),
      h("span", null, `max ${fmt(u.maxActivation)}`),
      h("span", null, `${int(u.tokens)} evaluation tokens`),
      app.source.mode === "live" ? neighbours(app, run, u.index) : null,
      u.kind === "feature" && app.source.mode === "live"
        ? h("a", { href: app.href(promptPath(run, null, u.name)) }, "analyse a prompt with this feature →")
        : null,
    ),
  );
  const left = h("div", { class: "col" }, activationsPanel(u), logitsPanel(u));
  const [matches, near] = relatedPanels(app, u);
  const right = h("div", { class: "col" }, interpretabilityPanel(u), proxyPanel(u), neuronsPanel(app, u), near);
  return h(
    "div",
    { class: "unit-page", "data-unit": u.name },
    header,
    h("div", { class: "unit-grid" }, left, right),
    matches,
    familyPanel(app, u),
    examplesPanel(u),
    ablationPanel(u),
    intervalsPanel(u),
    comparePanel(app, u),
    u.kind === "feature" && app.source.mode === "live" ? steerPanel(app, run, { features: `${u.index}=+8`, text: "" }) : null,
  );
}
