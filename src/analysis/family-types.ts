/**
 * The shapes of feature families (family.ts) that the manifest, the API and the web app share: free of Node
 * imports, so the browser app's type-check can read them.
 */

export type FamilySideName = "smaller" | "larger";

/** The manifest's summary of family.safetensors (InvestigationManifest.family). */
export interface FamilyManifest {
  file: "family.safetensors";
  sides: { side: FamilySideName; run: string; units: number; k: number }[];
}

/** A feature of a neighbouring run as the family view shows it. */
export interface FamilyMember {
  /** "A/2/817". */
  name: string;
  index: number;
  /** Decoder cosine with the feature. */
  cos: number | null;
  /** Activation r with the feature over the evaluation tokens (null when either never fires). */
  r: number | null;
  /** From the neighbouring run's store, when it has one (null otherwise). */
  label: string | null;
  density: number | null;
  topTokens: string[];
}

/** One side of a feature's family. */
export interface FamilySideView {
  side: FamilySideName;
  /** The neighbouring run, e.g. "A/0", its size, and whether its store is loaded (top tokens, densities, links). */
  run: string;
  units: number;
  available: boolean;
  /**
   * Smaller side: the parent (nearest by decoder cosine) first, then the other nearest by cosine or by r.
   * Larger side: the children (its features whose nearest feature in this run is this one), by cosine.
   */
  members: (FamilyMember & { relation: "parent" | "child" | "nearest by cosine" | "nearest by r" })[];
  /** Larger side: features whose nearest here is this one but at decoder cosine < 0.3 (counted, not listed). */
  weakChildren: number;
}

/** UnitRecord.family: the feature's family across dictionary sizes (absent when its store has no family links). */
export interface FamilyView {
  sides: FamilySideView[];
}
