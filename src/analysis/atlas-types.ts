/**
 * The atlas as the dashboards receive it (GET /api/atlas/A; atlas-view.ts builds it). Types only, with no Node
 * import, so the browser app can share them.
 */

/** How the layout was made (atlas.ts). */
export interface AtlasParams {
  seed: number;
  neighbors: number;
  minDist: number;
  epochs: number;
  metric: "cosine";
  knn: "exact";
}

export interface AtlasRunView {
  name: string;
  units: number;
  /** Index of the run's first point. */
  offset: number;
  /** Whether the run's own store was joined (density, scores, tokens, links). */
  analysed: boolean;
  /** Why not, when it was not. */
  note?: string;
}

export interface AtlasView {
  model: string;
  /** The feature set whose store holds the atlas, e.g. "A/1". */
  source: string;
  params: AtlasParams;
  runs: AtlasRunView[];
  /** Per point (run after run, units in order): coordinates, 5 significant digits. */
  x: number[];
  y: number[];
  /** Density over the run's evaluation tokens (null: run not analysed). */
  density: (number | null)[];
  /** Interpretability score (null: dead, not analysed, or a store without it). */
  interpScore: (number | null)[];
  /** Share of activation mass on code (null: dead, not analysed, or a store without the column). */
  codeShare: (number | null)[];
  /** The first 3 top-activating (atlas-view.ts ATLAS_TOP_TOKENS) tokens ([] when not analysed or dead). */
  top: string[][];
  /** Whether any joined run's store has the column at all (the page greys the colouring out otherwise). */
  hasCodeShare: boolean;
  hasInterpScore: boolean;
}

