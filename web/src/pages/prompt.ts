/** The prompt page: analyse a text, colour its tokens by a chosen feature, rank the features that matter. */
import { steerPanel } from "./steer-panel.js";
import type { PromptAnalysis, PromptFeatureScore, RunInfo } from "../types.js";
import { type App, unitLink } from "../app.js";
import { activationBg } from "../colors.js";
import { errorBox, h, note, panel } from "../dom.js";
import { fmt, signed, tokenInline, tokenLabel } from "../format.js";
import { promptPath } from "../router.js";
import { OFFLINE_HINT } from "../source.js";

export interface PromptRoute {
  run: string | null;
  text: string | null;
  feature: string | null;
}

type RankingKey = keyof PromptAnalysis["rankings"];

const RANKINGS: { key: RankingKey; title: string; help: string; format: (v: number) => string }[] = [
  { key: "maxActivation", title: "Max activation", help: "largest activation on the prompt", format: (v) => fmt(v) },
  {
    key: "lossEffect",
    title: "Loss effect",
    help: "increase of the prompt's next-token loss (nats, summed) when the feature is zeroed where it fires; + = the feature helps",
    format: (v) => signed(v),
  },
  {
    key: "logitEffect",
    title: "Logit effect",
    help: "largest direct effect on the actual next token's logit (activation × logit weight)",
    format: (v) => signed(v),
  },
];

/** The server's default prompt limit (src/web/server.ts DEFAULT_MAX_PROMPT_CHARS): checked here before sending. */
export const MAX_PROMPT_CHARS = 2000;

export async function promptPage(app: App, route: PromptRoute): Promise<HTMLElement> {
  document.title = "Prompt · saekit";
  const isStatic = app.source.mode === "static";
  let runs: RunInfo[] = [];
  let runsError: string | null = null;
  try {
    runs = (await app.source.runs()).filter((r) => r.kind === "feature" && (r.promptable || isStatic));
  } catch (e) {
    runsError = e instanceof Error ? e.message : String(e);
  }
  const runNames = runs.map((r) => r.name);
  if (route.run && !runNames.includes(route.run)) runNames.push(route.run);
  const runSel = route.run ?? runNames[0] ?? null;

  const textarea = h("textarea", {
    "data-testid": "prompt-input",
    rows: 4,
    placeholder: "Type or paste a prompt…",
    spellcheck: "false",
    readonly: isStatic,
  });
  textarea.value = route.text ?? "";
  const select = h(
    "select",
    { "data-testid": "prompt-run", "aria-label": "SAE run", disabled: isStatic },
    runNames.map((n) => h("option", { value: n, selected: n === runSel }, n)),
  );
  const submit = h(
    "button",
    {
      type: "submit",
      class: "primary",
      "data-testid": "prompt-submit",
      disabled: isStatic || runNames.length === 0,
      title: isStatic ? OFFLINE_HINT : null,
    },
    "Analyse",
  );
  const formMessage = h("div", { "data-testid": "prompt-form-message" });
  const form = h(
    "form",
    {
      class: "prompt-form panel",
      onsubmit: (ev: SubmitEvent) => {
        ev.preventDefault();
        const text = textarea.value;
        if (!select.value) return;
        if (text.trim().length === 0) return void formMessage.replaceChildren(errorBox("the prompt is empty: type a text to analyse"));
        if (text.length > MAX_PROMPT_CHARS) {
          return void formMessage.replaceChildren(errorBox(`the prompt has ${text.length} characters; the server takes at most ${MAX_PROMPT_CHARS} (about 400 tokens; the model's context is shorter still)`));
        }
        formMessage.replaceChildren();
        // Keep the feature the tokens are coloured by, when it belongs to the chosen run.
        const feature = route.feature && route.feature.startsWith(`${select.value}/`) ? route.feature : null;
        app.navigate(promptPath(select.value, text, feature));
      },
    },
    h("h1", null, "Prompt analysis"),
    textarea,
    h(
      "div",
      { class: "form-row" },
      h("label", null, "SAE run ", select),
      submit,
      isStatic ? h("span", { class: "note" }, "Offline snapshot: analysing another prompt needs `saekit serve`.") : null,
      runsError ? errorBox(runsError) : null,
      !isStatic && !runsError && runs.length === 0 ? h("span", { class: "note" }, "No promptable run: start `saekit serve` with a model and SAE loaded.") : null,
    ),
    formMessage,
  );
  textarea.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) form.requestSubmit();
  });

  const page = h("div", { class: "prompt-page" }, form);
  if (!isStatic && route.text && runSel) {
    const f = route.feature && route.feature.startsWith(`${runSel}/`) ? `${route.feature.slice(runSel.length + 1)}=+8` : "";
    page.append(steerPanel(app, runSel, { features: f, text: route.text }));
  }
  if (route.text && runSel) {
    // The form shows at once; the analysis (a model run on the server) fills in below when it arrives.
    const slot = h("div", { class: "prompt-slot", "aria-live": "polite" }, h("p", { class: "loading" }, `Analysing the prompt on ${runSel}…`));
    page.append(slot);
    const wasDisabled = submit.disabled;
    submit.disabled = true;
    app.source.prompt(runSel, route.text).then(
      (analysis) => slot.replaceChildren(promptResult(app, analysis, route.feature)),
      (e: unknown) => slot.replaceChildren(errorBox(e instanceof Error ? e.message : String(e))),
    ).finally(() => {
      submit.disabled = wasDisabled;
    });
  }
  return page;
}

interface FeatureInfo {
  name: string;
  label: string | null;
}

function featureList(a: PromptAnalysis): FeatureInfo[] {
  const seen = new Map<string, FeatureInfo>();
  for (const r of RANKINGS) for (const s of a.rankings[r.key]) if (!seen.has(s.name)) seen.set(s.name, { name: s.name, label: s.label });
  for (const t of a.tokens) for (const f of t.features) if (!seen.has(f.name)) seen.set(f.name, { name: f.name, label: null });
  return [...seen.values()];
}

function activationOf(t: PromptAnalysis["tokens"][number], feature: string | null): number {
  if (!feature) return 0;
  return t.features.find((f) => f.name === feature)?.activation ?? 0;
}

function tokenTitle(t: PromptAnalysis["tokens"][number], labels: Map<string, string | null>): string {
  const lines = [`"${tokenLabel(t.text)}"  (id ${t.id})`, `loss on next token: ${t.loss === null ? "—" : fmt(t.loss)}`];
  if (t.features.length === 0) lines.push("no active features");
  else {
    lines.push("top features:");
    for (const f of t.features.slice(0, 8)) {
      const label = labels.get(f.name);
      lines.push(`  ${f.name}  ${fmt(f.activation)}${label ? `  ${label}` : ""}`);
    }
    if (t.features.length > 8) lines.push(`  … ${t.features.length - 8} more`);
  }
  return lines.join("\n");
}

export function promptResult(app: App, a: PromptAnalysis, initial: string | null): HTMLElement {
  const features = featureList(a);
  const labels = new Map(features.map((f) => [f.name, f.label]));
  let selected: string | null = initial ?? a.rankings.maxActivation[0]?.name ?? features[0]?.name ?? null;

  const tokenSpans = a.tokens.map((t, i) =>
    h(
      "span",
      {
        class: "tok",
        title: tokenTitle(t, labels),
        "data-testid": "prompt-token",
        "data-index": i,
        onclick: () => focusTokenRow(i),
      },
      tokenInline(t.text),
    ),
  );
  const featureSelect = h(
    "select",
    { "data-testid": "prompt-feature", "aria-label": "colour tokens by feature", onchange: () => pick(featureSelect.value) },
    features.map((f) => h("option", { value: f.name }, f.label ? `${f.name} · ${f.label}` : f.name)),
  );
  if (selected && !features.some((f) => f.name === selected)) {
    featureSelect.append(h("option", { value: selected }, selected));
  }
  const info = h("span", { class: "note" });
  const selectedLink = h("span", { class: "selected-link" });

  const rankingTables = RANKINGS.map((r) => rankingTable(app, r, a, (name) => pick(name)));
  const tokenRows = a.tokens.map((t, i) =>
    h(
      "tr",
      { "data-index": i },
      h("td", { class: "num muted" }, String(i)),
      h("td", null, h("span", { class: "chip" }, tokenLabel(t.text))),
      h("td", { class: "num" }, t.loss === null ? "—" : fmt(t.loss)),
      h(
        "td",
        { class: "feature-chips" },
        t.features.length === 0
          ? h("span", { class: "muted" }, "—")
          : t.features.slice(0, 6).map((f) =>
              h(
                "button",
                { type: "button", class: "fchip", "data-feature": f.name, title: labels.get(f.name) ?? f.name, onclick: () => pick(f.name) },
                h("span", null, f.name),
                h("span", { class: "fchip-act" }, fmt(f.activation)),
              ),
            ),
        t.features.length > 6 ? h("span", { class: "muted" }, ` +${t.features.length - 6}`) : null,
      ),
    ),
  );

  const chips = tokenRows.flatMap((row) => [...row.querySelectorAll<HTMLElement>(".fchip")]);

  function focusTokenRow(i: number): void {
    const row = tokenRows[i];
    if (!row) return;
    for (const r of tokenRows) r.classList.remove("flash");
    row.classList.add("flash");
    row.scrollIntoView({ block: "nearest", behavior: "smooth" });
  }

  function pick(name: string): void {
    selected = name;
    recolour();
    app.replaceUrl(promptPath(a.run, a.text, name));
  }

  function recolour(): void {
    let max = 0;
    for (const t of a.tokens) max = Math.max(max, activationOf(t, selected));
    a.tokens.forEach((t, i) => {
      const v = activationOf(t, selected);
      const span = tokenSpans[i]!;
      span.style.background = activationBg(max > 0 ? v / max : 0);
      span.dataset.activation = String(v);
      span.classList.toggle("on", v > 0);
    });
    if (selected) featureSelect.value = selected;
    for (const table of rankingTables) {
      for (const tr of table.querySelectorAll("tr[data-feature]")) tr.classList.toggle("selected", tr.getAttribute("data-feature") === selected);
    }
    for (const b of chips) b.classList.toggle("selected", b.dataset.feature === selected);
    info.textContent = selected ? `max on this prompt ${fmt(max)} · ${a.tokens.filter((t) => activationOf(t, selected) > 0).length} tokens active` : "";
    selectedLink.replaceChildren(selected ? unitLink(app, selected, "selected-feature-link", `open ${selected} →`) : "");
  }

  const result = h(
    "div",
    { class: "prompt-result", "data-testid": "prompt-result" },
    panel(
      "prompt-tokens",
      `Tokens (${a.tokens.length}) · run ${a.run}`,
      h("div", { class: "form-row" }, h("label", null, "Colour by feature ", featureSelect), info, selectedLink),
      h(
        "div",
        { class: "prompt-text" },
        tokenSpans.map((span, i) => (a.tokens[i]!.text.includes("\n") ? [span, h("br")] : span)),
      ),
      h("p", { class: "note" }, "Hover a token for its top features; click one to find it in the list below; click a ranking row or a feature chip to colour by that feature."),
    ),
    h("div", { class: "rankings" }, rankingTables),
    panel(
      "token-features",
      "Top features per token",
      h(
        "div",
        { class: "scroll-box" },
        h(
          "table",
          { class: "data token-table" },
          h("thead", null, h("tr", null, h("th", { class: "num" }, "#"), h("th", null, "token"), h("th", { class: "num" }, "loss"), h("th", null, "active features (activation)"))),
          h("tbody", null, tokenRows),
        ),
      ),
    ),
  );
  recolour();
  return result;
}

function rankingTable(
  app: App,
  r: (typeof RANKINGS)[number],
  a: PromptAnalysis,
  pick: (name: string) => void,
): HTMLElement {
  const rows: PromptFeatureScore[] = a.rankings[r.key];
  return h(
    "section",
    { class: "panel ranking", "data-testid": `ranking-${r.key}` },
    h("h2", { title: r.help }, r.title),
    h("p", { class: "note" }, r.help),
    rows.length === 0
      ? note("No features.")
      : h(
          "table",
          { class: "data" },
          h("thead", null, h("tr", null, h("th", { class: "num" }, "#"), h("th", null, "feature"), h("th", { class: "num" }, "value"), h("th", null, "at"))),
          h(
            "tbody",
            null,
            rows.map((s, i) =>
              h(
                "tr",
                {
                  "data-feature": s.name,
                  class: "pickable",
                  title: "click to colour the prompt by this feature",
                  onclick: (ev: MouseEvent) => {
                    if ((ev.target as Element).closest("a")) return;
                    pick(s.name);
                  },
                },
                h("td", { class: "num muted" }, String(i + 1)),
                h("td", null, unitLink(app, s.name, "feature-link", s.name), s.label ? h("div", { class: "row-label" }, s.label) : null),
                h("td", { class: "num" }, r.format(s.value)),
                h("td", null, h("span", { class: "chip" }, tokenLabel(a.tokens[s.position]?.text ?? "?"))),
              ),
            ),
          ),
        ),
  );
}
