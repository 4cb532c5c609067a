/**
 * The steering panel (feature and prompt pages, live only): generate with chosen features clamped (`617=8`), shifted
 * (`617=+8`) or scaled (`617=*2`) at the SAE's hook point, beside the unsteered text, and the next-token
 * probabilities that rose and fell most after a chosen prompt token (the last by default; on the prompt page, the
 * picked token) (POST /api/steer, analysis/steering.ts).
 */
import type { App } from "../app.js";
import { errorBox, h, panel } from "../dom.js";
import { tokenLabel } from "../format.js";
import { mergeTokenText } from "../token-bytes.js";
import type { SteerResult } from "../types.js";

const pct = (p: number) => `${(100 * p).toFixed(2)} %`;

/** The prompt tokens as displayed: byte-level pieces of a split UTF-8 character merged (token-bytes.ts). */
export function steerPromptPieces(r: Pick<SteerResult, "promptTokens" | "promptTokenBytes">): string[] {
  return mergeTokenText(r.promptTokens.map((text, i) => (r.promptTokenBytes?.[i] ? { text, bytes: r.promptTokenBytes[i]! } : { text }))).map((p) => p.text);
}

function result(r: SteerResult): HTMLElement {
  const pieces = steerPromptPieces(r);
  const text = (label: string, testid: string, t: { text: string }) =>
    h("div", { class: "steer-text" }, h("div", { class: "caption" }, label), h("pre", { "data-testid": testid }, r.prompt, h("mark", null, t.text)));
  const shiftTable = (title: string, rows: SteerResult["nextToken"]["raised"], testid: string) =>
    h(
      "table",
      { class: "steer-shift", "data-testid": testid },
      h("thead", null, h("tr", null, h("th", null, title), h("th", null, "before"), h("th", null, "after"))),
      h("tbody", null, rows.slice(0, 8).map((s) => h("tr", { "data-testid": "steer-shift-row", "data-token": s.text }, h("td", null, h("span", { class: "chip" }, tokenLabel(s.text))), h("td", { class: "num" }, pct(s.before)), h("td", { class: "num" }, pct(s.after))))),
    );
  return h(
    "div",
    { class: "steer-result", "data-testid": "steer-result" },
    h("p", { class: "note" }, `${r.features.map((f) => `${f.name} ${f.label}`).join(", ")} · ${r.temperature > 0 ? `temperature ${r.temperature}, seed ${r.seed}` : "greedy"}`),
    h("div", { class: "steer-columns" }, text("unsteered", "steer-unsteered", r.unsteered), text("steered", "steer-steered", r.steered)),
    h("div", { class: "caption", "data-testid": "steer-shift-caption", "data-position": r.nextToken.position }, `Next token after “${tokenLabel(r.nextToken.token)}” (prompt token #${r.nextToken.position} of ${r.promptTokens.length}): probability without → with steering`),
    h("div", { class: "steer-prompt-tokens" }, pieces.slice(0, r.nextToken.position + 1).map((t, i) => (i === r.nextToken.position ? h("mark", null, t) : t))),
    h("div", { class: "steer-columns" }, shiftTable("raised most", r.nextToken.raised, "steer-raised"), shiftTable("lowered most", r.nextToken.lowered, "steer-lowered")),
  );
}

/** The panel; `features` and `text` prefill the form (e.g. "617=+8" on feature A/1/617's page). */
export function steerPanel(app: App, run: string, init: { features: string; text: string; position?: number | null }): HTMLElement {
  const features = h("input", { type: "text", "data-testid": "steer-features", value: init.features, size: 24, "aria-label": "features to steer", placeholder: "617=+8, 1493=*2" });
  const prompt = h("textarea", { "data-testid": "steer-text", rows: 2, "aria-label": "prompt to continue", spellcheck: "false" });
  prompt.value = init.text;
  const tokens = h("input", { type: "number", min: 1, max: 64, value: 24, "data-testid": "steer-tokens", "aria-label": "tokens to generate" });
  const temperature = h("input", { type: "number", min: 0, max: 10, step: 0.1, value: 0, "data-testid": "steer-temperature", "aria-label": "temperature" });
  const seed = h("input", { type: "number", min: 0, value: 0, "data-testid": "steer-seed", "aria-label": "seed" });
  const position = h("input", {
    type: "number", min: 0, step: 1, value: init.position ?? "", placeholder: "last", "data-testid": "steer-position",
    "aria-label": "prompt token whose next-token distribution is compared (blank: the last)",
  });
  const submit = h("button", { type: "submit", class: "primary", "data-testid": "steer-submit" }, "Steer");
  const slot = h("div", { "aria-live": "polite" });
  const form = h(
    "form",
    {
      class: "steer-form",
      onsubmit: (ev: SubmitEvent) => {
        ev.preventDefault();
        const list = features.value.split(/[,\s]+/).filter((s) => s.length > 0);
        if (prompt.value.trim() === "") return void slot.replaceChildren(errorBox("the prompt is empty: type a text to continue"));
        if (list.length === 0) return void slot.replaceChildren(errorBox("no feature to steer: e.g. 617=+8 (add 8), 617=*2 (scale), 617=8 (clamp)"));
        const pos = position.value.trim() === "" ? undefined : Number(position.value);
        if (pos !== undefined && !(Number.isInteger(pos) && pos >= 0)) return void slot.replaceChildren(errorBox(`position must be a token index (0, 1, …) or blank for the last token, got ${position.value}`));
        submit.disabled = true;
        slot.replaceChildren(h("p", { class: "loading" }, "Generating with and without steering…"));
        app.source
          .steer(run, prompt.value, list, { tokens: Number(tokens.value), temperature: Number(temperature.value), seed: Number(seed.value), ...(pos !== undefined ? { position: pos } : {}) })
          .then((r) => slot.replaceChildren(result(r)), (e: unknown) => slot.replaceChildren(errorBox(e instanceof Error ? e.message : String(e))))
          .finally(() => (submit.disabled = false));
      },
    },
    prompt,
    h("div", { class: "form-row" }, h("label", null, "features ", features), h("label", null, "tokens ", tokens), h("label", null, "temperature ", temperature), h("label", null, "seed ", seed), h("label", null, "next-token shift at token # ", position), submit),
    h("p", { class: "note" }, "N=8 clamps feature N to 8 everywhere, N=+8 adds 8 to its activation (N=-3 subtracts), N=*2 scales it (N=*0 ablates). Temperature 0 is greedy. The next-token shift is compared after token # (0 = the first; blank = the last; on the prompt page, picking a token sets it)."),
  );
  return panel("steer-panel", `Steering (${run})`, form, slot);
}
