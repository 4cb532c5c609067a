/** The prompt page: analyse a text, colour its tokens by a chosen feature, rank the features that matter. */
import { steerPanel } from "./steer-panel.js";
import type { PromptAnalysis, PromptFeatureScore, RunInfo } from "../types.js";
import { type App, unitLink } from "../app.js";
import { activationBg } from "../colors.js";
import { type Child, errorBox, h, note, panel } from "../dom.js";
import { fmt, signed, tokenInline, tokenLabel } from "../format.js";
import { promptPath } from "../router.js";
import { OFFLINE_HINT } from "../source.js";
import { hexBytes, mergeTokenText } from "../token-bytes.js";
import { tokenNav } from "../token-nav.js";
import { installTooltips, setTip, tipTable } from "../tooltip.js";

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

type Token = PromptAnalysis["tokens"][number];

function featureList(a: PromptAnalysis): FeatureInfo[] {
  const seen = new Map<string, FeatureInfo>();
  for (const r of RANKINGS) for (const s of a.rankings[r.key]) if (!seen.has(s.name)) seen.set(s.name, { name: s.name, label: s.label });
  for (const t of a.tokens) for (const f of t.features) if (!seen.has(f.name)) seen.set(f.name, { name: f.name, label: null });
  return [...seen.values()];
}

/** The feature's activation at a token: from the token's full list of active features when sent, else its top 10. */
function activationOf(t: Token, feature: string | null): number {
  if (!feature) return 0;
  return (t.prediction?.features ?? t.features).find((f) => f.name === feature)?.activation ?? 0;
}

type PredictionKey = "activation" | "logitEffect" | "lossEffect";

const PREDICTION_ORDERS: { key: PredictionKey; title: string }[] = [
  { key: "activation", title: "activation" },
  { key: "logitEffect", title: "direct logit effect" },
  { key: "lossEffect", title: "loss effect" },
];

const pctProb = (p: number) => `${(100 * p).toFixed(p >= 0.0995 ? 1 : 2)} %`;

export function promptResult(app: App, a: PromptAnalysis, initial: string | null): HTMLElement {
  installTooltips();
  const features = featureList(a);
  const labels = new Map(features.map((f) => [f.name, f.label]));
  let selected: string | null = initial ?? a.rankings.maxActivation[0]?.name ?? features[0]?.name ?? null;
  let position = a.tokens.length - 1;
  let order: PredictionKey = "activation";
  const pieces = mergeTokenText(a.tokens);
  /** A token as shown in chips and tables: its merged text, or "◌" for a token that only continues a character. */
  const shown = (i: number) => (pieces[i]?.text ? tokenLabel(pieces[i]!.text) : "◌");

  const tokenSpans = a.tokens.map((t, i) => {
    const piece = pieces[i]!;
    const cls = ["tok"];
    if (piece.runEnd > piece.runStart) cls.push("merged");
    if (piece.text === "") cls.push("cont");
    const span = h(
      "span",
      {
        class: cls.join(" "),
        role: "button",
        "aria-label": `token ${i}: ${piece.runEnd > piece.runStart ? `part of ${tokenLabel(piece.runText)}` : tokenLabel(piece.text)}`,
        "data-testid": "prompt-token",
        "data-index": i,
        "data-run": piece.runEnd > piece.runStart ? `${piece.runStart}-${piece.runEnd}` : null,
        onclick: () => selectPosition(i, true),
      },
      piece.text === "" ? "" : tokenInline(piece.text),
    );
    setTip(span, () => tokenTip(i));
    return span;
  });

  function tokenTip(i: number): HTMLElement {
    const t = a.tokens[i]!;
    const piece = pieces[i]!;
    const rows: [string, Child][] = [["token id", String(t.id)]];
    if (t.bytes) {
      rows.push(["bytes", h("code", { "data-testid": "tip-bytes" }, hexBytes(t.bytes))]);
      if (piece.runEnd > piece.runStart) rows.push(["decoded with", `tokens #${piece.runStart}–#${piece.runEnd} as “${tokenLabel(piece.runText)}”`]);
    }
    if (selected) {
      const act = activationOf(t, selected);
      rows.push([selected, h("span", { "data-testid": "tip-activation" }, act > 0 ? `activation ${fmt(act)}` : "not active")]);
      const part = t.prediction?.features.find((f) => f.name === selected);
      if (part && t.prediction) {
        rows.push([`Δ log P(${tokenLabel(t.prediction.target.text)})`, h("span", { "data-testid": "tip-delta" }, `${signed(-part.lossEffect)} when zeroed here`)]);
      }
    }
    if (t.prediction) {
      const tg = t.prediction.target;
      rows.push([tg.actual ? "next token" : "predicted", `${tokenLabel(tg.text)}  P = ${pctProb(tg.prob)}`]);
    }
    rows.push(["loss on next", t.loss === null ? "— (last token)" : `${fmt(t.loss)} nats`]);
    const top = (t.prediction?.features ?? t.features).slice(0, 5);
    rows.push(["top features", top.length === 0 ? "none active" : h("span", null, top.map((f, j) => [j > 0 ? ", " : "", `${f.name.slice(f.name.lastIndexOf("/") + 1)} (${fmt(f.activation)})`]))]);
    return tipTable(h("span", null, h("span", { class: "chip" }, piece.text ? tokenLabel(piece.text) : "◌"), h("span", { class: "muted" }, `  token #${i}`)), rows);
  }

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

  const rankingTables = RANKINGS.map((r) => rankingTable(app, r, a, (name) => pick(name), (pos) => selectPosition(pos, true), shown));
  const tokenRows = a.tokens.map((t, i) =>
    h(
      "tr",
      { "data-index": i },
      h("td", { class: "num muted" }, String(i)),
      h("td", null, h("button", { type: "button", class: "chip chip-button", title: "show the prediction at this token", onclick: () => selectPosition(i, true) }, shown(i))),
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
  const predictionBody = h("div", { "data-testid": "prediction-body" });
  const predictionTitle = h("h2", { "data-testid": "prediction-title" });

  function selectPosition(i: number, fromUser: boolean): void {
    if (i < 0 || i >= a.tokens.length) return;
    position = i;
    tokenSpans.forEach((s, j) => {
      s.classList.toggle("picked", j === i);
      s.setAttribute("aria-pressed", String(j === i));
    });
    for (const r of tokenRows) r.classList.toggle("flash", r.dataset.index === String(i));
    renderPrediction();
    if (fromUser) {
      // The steering panel compares the next-token distribution at the picked token (when it steers this prompt).
      const steerPos = document.querySelector<HTMLInputElement>('[data-testid="steer-position"]');
      const steerText = document.querySelector<HTMLTextAreaElement>('[data-testid="steer-text"]');
      if (steerPos && steerText && steerText.value === a.text) steerPos.value = String(i);
    }
  }

  function renderPrediction(): void {
    const t = a.tokens[position]!;
    const pred = t.prediction;
    predictionTitle.replaceChildren(`Prediction at token #${position} `, h("span", { class: "chip" }, shown(position)));
    if (!pred) {
      predictionBody.replaceChildren(note("This page was made before per-token predictions were sent: analyse the prompt again with this version of `saekit serve` (or `saekit prompt --html`) to see them."));
      return;
    }
    const target = pred.target;
    const targetLabel = tokenLabel(target.text);
    const next = h(
      "table",
      { class: "data compact next-tokens", "data-testid": "next-tokens" },
      h("thead", null, h("tr", null, h("th", { class: "num" }, "#"), h("th", null, "next token"), h("th", { class: "num" }, "probability"))),
      h(
        "tbody",
        null,
        pred.top.map((x, j) =>
          h(
            "tr",
            { "data-testid": "next-token-row", "data-token-id": x.id, class: x.id === target.id && target.actual ? "actual" : null },
            h("td", { class: "num muted" }, String(j + 1)),
            h("td", null, h("span", { class: "chip" }, tokenLabel(x.text)), x.id === target.id && target.actual ? h("span", { class: "muted" }, " actual") : null),
            h("td", { class: "num" }, h("span", { class: "bar-cell" }, h("span", { class: "bar-track" }, h("span", { class: "bar prob", style: `width:${(100 * x.prob).toFixed(1)}%` })), h("span", { class: "bar-value" }, pctProb(x.prob)))),
          ),
        ),
        target.actual && !pred.top.some((x) => x.id === target.id)
          ? h("tr", { "data-testid": "next-token-row", "data-token-id": target.id, class: "actual" }, h("td", { class: "num muted" }, "…"), h("td", null, h("span", { class: "chip" }, targetLabel), h("span", { class: "muted" }, " actual")), h("td", { class: "num" }, pctProb(target.prob)))
          : null,
      ),
    );
    const sorted = [...pred.features].sort((x, y) => y[order] - x[order] || x.index - y.index);
    const orderButtons = h(
      "div",
      { class: "toggle", role: "group", "aria-label": "rank features by" },
      PREDICTION_ORDERS.map((o) =>
        h("button", { type: "button", class: o.key === order ? "active" : null, "aria-pressed": String(o.key === order), "data-order": o.key, onclick: () => ((order = o.key), renderPrediction()) }, o.title),
      ),
    );
    const featureTable = sorted.length === 0
      ? note("No feature is active at this token.")
      : h(
          "table",
          { class: "data compact", "data-testid": "prediction-features", "data-order": order },
          h(
            "thead",
            null,
            h("tr", null, h("th", { class: "num" }, "#"), h("th", null, "feature"), h("th", { class: "num" }, "activation"), h("th", { class: "num", title: `direct effect on the logit of ${targetLabel}` }, `logit ${targetLabel}`), h("th", { class: "num", title: `−Δ log P(${targetLabel}) when zeroed at this token` }, "loss effect")),
          ),
          h(
            "tbody",
            null,
            sorted.map((f, j) =>
              h(
                "tr",
                { "data-testid": "prediction-feature", "data-feature": f.name, class: `pickable${f.name === selected ? " selected" : ""}`, title: "click to colour the prompt by this feature", onclick: (ev: MouseEvent) => !(ev.target as Element).closest("a") && pick(f.name) },
                h("td", { class: "num muted" }, String(j + 1)),
                h("td", null, unitLink(app, f.name, "feature-link", f.name), labels.get(f.name) ? h("div", { class: "row-label" }, labels.get(f.name)!) : null),
                h("td", { class: "num" }, fmt(f.activation)),
                h("td", { class: "num" }, signed(f.logitEffect)),
                h("td", { class: "num" }, signed(f.lossEffect)),
              ),
            ),
          ),
        );
    predictionBody.replaceChildren(
      h(
        "p",
        { class: "note", "data-testid": "prediction-target" },
        target.actual ? ["The actual next token is ", h("span", { class: "chip" }, targetLabel), ` (P = ${pctProb(target.prob)}).`] : ["Last token: the features are scored for the model's top prediction ", h("span", { class: "chip" }, targetLabel), ` (P = ${pctProb(target.prob)}).`],
      ),
      h(
        "div",
        { class: "prediction-grid" },
        h("div", null, h("h3", null, "Model's top next tokens"), next),
        h(
          "div",
          null,
          h("div", { class: "panel-bar" }, h("h3", null, `Features active here (${sorted.length}), ranked by ${PREDICTION_ORDERS.find((o) => o.key === order)!.title}`), orderButtons),
          featureTable,
          note(`Direct logit effect: activation × the feature's logit weight for ${targetLabel}, through ln_final at this token's scale (direct logit attribution). Loss effect: −Δ log P(${targetLabel}) when the feature is zeroed at this token alone (exact, through the final residual); + = the feature helps predict ${targetLabel}.`),
        ),
      ),
    );
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
      span.classList.toggle("strong", max > 0 && v / max > 0.55);
    });
    if (selected) featureSelect.value = selected;
    for (const table of rankingTables) {
      for (const tr of table.querySelectorAll("tr[data-feature]")) tr.classList.toggle("selected", tr.getAttribute("data-feature") === selected);
    }
    for (const tr of predictionBody.querySelectorAll("tr[data-feature]")) tr.classList.toggle("selected", tr.getAttribute("data-feature") === selected);
    for (const b of chips) b.classList.toggle("selected", b.dataset.feature === selected);
    info.textContent = selected ? `max on this prompt ${fmt(max)} · ${a.tokens.filter((t) => activationOf(t, selected) > 0).length} tokens active` : "";
    selectedLink.replaceChildren(selected ? unitLink(app, selected, "selected-feature-link", `open ${selected} →`) : "");
  }

  const promptText = h(
    "div",
    { class: "prompt-text", "data-testid": "prompt-text", role: "group", "aria-label": "prompt tokens: arrow keys move, Enter picks" },
    tokenSpans.map((span, i) => (a.tokens[i]!.text.includes("\n") ? [span, h("br")] : span)),
  );
  tokenNav(promptText, ".tok");

  const result = h(
    "div",
    { class: "prompt-result", "data-testid": "prompt-result" },
    panel(
      "prompt-tokens",
      `Tokens (${a.tokens.length}) · run ${a.run}`,
      h("div", { class: "form-row" }, h("label", null, "Colour by feature ", featureSelect), info, selectedLink),
      promptText,
      h("p", { class: "note" }, "Hover or focus a token (Tab, then ← →) for its details; click it or press Enter to see the prediction made there. Click a ranking row or a feature chip to colour by that feature. Characters split between tokens are shown on the token holding their first byte (underlined run); the tooltip lists each token's own bytes."),
    ),
    h("section", { class: "panel prediction", "data-testid": "prediction-panel" }, predictionTitle, predictionBody),
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
  selectPosition(position, false);
  return result;
}

function rankingTable(
  app: App,
  r: (typeof RANKINGS)[number],
  a: PromptAnalysis,
  pick: (name: string) => void,
  selectPosition: (position: number) => void,
  shown: (position: number) => string,
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
                h("td", null, h("button", { type: "button", class: "chip chip-button", title: "show the prediction at this token", onclick: () => selectPosition(s.position) }, a.tokens[s.position] ? shown(s.position) : "?")),
              ),
            ),
          ),
        ),
  );
}
