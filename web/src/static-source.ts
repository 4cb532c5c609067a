/** The data source of a self-contained HTML page: everything comes from the inlined StaticPageData. */
import type {
  AtlasResponse,
  CompareResponse,
  FeaturesResponse,
  PromptAnalysis,
  RelatedUnitsView,
  RunInfo,
  SearchResponse,
  SteerResult,
  StaticPageData,
  UnitRecord,
} from "./types.js";
import { AppError, type DataSource } from "./source.js";

export class StaticSource implements DataSource {
  readonly mode = "static" as const;
  private readonly units = new Map<string, UnitRecord>();

  constructor(readonly data: StaticPageData) {
    if (data.page === "feature") this.units.set(data.unit.name, data.unit);
    else if (data.page === "prompt") for (const [name, unit] of Object.entries(data.units)) this.units.set(name, unit);
  }

  runs(): Promise<RunInfo[]> {
    return Promise.resolve(this.data.run ? [this.data.run] : []);
  }

  unit(name: string): Promise<UnitRecord> {
    const u = this.units.get(name);
    if (u) return Promise.resolve(u);
    return Promise.reject(new AppError(`${name} is not part of this page; open it with \`saekit serve\``, 404));
  }

  search(query: string, run?: string | null): Promise<SearchResponse> {
    const q = query.trim().toLowerCase();
    const hits: SearchResponse["hits"] = [];
    if (q.length === 0) return Promise.resolve({ query, hits });
    for (const u of this.units.values()) {
      const unitRun = runOf(u.name);
      if (run && unitRun !== run) continue;
      const fields: [string, string[]][] = [
        ["name", [u.name]],
        ["label", [u.label]],
        ["top token", topTokenTexts(u)],
        ["top logit", u.logits.top.map((t) => t.text)],
        ["bottom logit", u.logits.bottom.map((t) => t.text)],
      ];
      for (const [field, texts] of fields) {
        const text = texts.find((t) => t.toLowerCase().includes(q));
        if (text !== undefined) {
          hits.push({ run: unitRun, name: u.name, index: u.index, label: u.label, density: u.density, score: u.interpretability?.score ?? null, field, text });
          break;
        }
      }
    }
    return Promise.resolve({ query, hits });
  }

  steer(): Promise<SteerResult> {
    return Promise.reject(new AppError("steering runs the model: open this page with `saekit serve`", 404));
  }

  features(run: string): Promise<FeaturesResponse> {
    return Promise.reject(new AppError(`the feature table of ${run} is not part of this page; open it with \`saekit serve\``, 404));
  }

  related(name: string): Promise<RelatedUnitsView | null> {
    return Promise.resolve(this.data.page === "feature" && this.data.unit.name === name ? this.data.related ?? null : null);
  }

  compare(a: string, b: string): Promise<CompareResponse | null> {
    if (this.data.page !== "feature") return Promise.resolve(null);
    for (const c of this.data.comparisons) {
      if (c.a === a && c.b === b) return Promise.resolve(c);
      if (c.a === b && c.b === a) {
        return Promise.resolve({
          a,
          b,
          activations: { ...c.activations, x: c.activations.y, y: c.activations.x },
          logits: { ...c.logits, x: c.logits.y, y: c.logits.x },
        });
      }
    }
    return Promise.resolve(null);
  }

  prompt(run: string, text: string): Promise<PromptAnalysis> {
    if (this.data.page === "prompt" && this.data.prompt.run === run && this.data.prompt.text === text) {
      return Promise.resolve(this.data.prompt);
    }
    return Promise.reject(new AppError("analysing a new prompt needs the server: run `saekit serve`"));
  }

  atlas(model: string): Promise<AtlasResponse> {
    if (this.data.page === "atlas" && this.data.atlas.model === model) return Promise.resolve(this.data.atlas);
    return Promise.reject(new AppError(`the atlas of ${model} is not part of this page; open it with \`saekit serve\``, 404));
  }

  canOpen(name: string): boolean {
    return this.units.has(name);
  }
}

/** "A/1/3450" → "A/1"; "A/neuron/489" → "A/neuron". */
export function runOf(name: string): string {
  const i = name.lastIndexOf("/");
  return i < 0 ? name : name.slice(0, i);
}

function topTokenTexts(u: UnitRecord): string[] {
  const seen = new Set<string>();
  for (const ex of u.top) {
    const t = ex.tokens[ex.position - ex.start];
    if (t) seen.add(t.text);
  }
  return [...seen];
}
