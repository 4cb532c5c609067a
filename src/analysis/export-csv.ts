/**
 * The feature table as CSV (`saekit export --format csv`): one row per unit, in index order, with exactly the fields
 * of `saekit features --json`'s rows (feature-table.ts FeatureTableRow), so a spreadsheet or pandas sees the same
 * table the CLI and the app show. Missing values (null) are empty cells; numbers are written in full (JavaScript's
 * shortest round-trip form), so parsing a cell gives back the stored value exactly.
 *
 * Written with csv-stringify (RFC 4180 quoting: labels hold commas, quotes and newlines).
 */
import { stringify } from "csv-stringify/sync";
import { FEATURE_TABLE_MAX_LIMIT, type FeatureTable, type FeatureTableQuery, type FeatureTableRow } from "./feature-table.js";

/**
 * The CSV's columns, in order: every field of a feature-table row, taken from the rows themselves so a field added to
 * FeatureTableRow reaches the CSV too (this list is only the header of an empty table).
 */
export const FEATURE_CSV_COLUMNS = [
  "name", "index", "label", "density", "max", "mean", "specificity", "sensitivity", "lossEffect", "neuron", "neuronR",
  "match", "matchR", "matchLogitR", "score", "codeShare",
] as const satisfies readonly (keyof FeatureTableRow)[];

export function featureCsvColumns(rows: readonly FeatureTableRow[]): string[] {
  return rows.length > 0 ? Object.keys(rows[0]!) : [...FEATURE_CSV_COLUMNS];
}

/** Every row of a unit set's table in index order, read page by page (`table`: feature-table.ts featureTable on a set). */
export function allFeatureRows(table: (q: FeatureTableQuery) => FeatureTable): FeatureTableRow[] {
  const rows: FeatureTableRow[] = [];
  for (let offset = 0; ; offset += FEATURE_TABLE_MAX_LIMIT) {
    const page = table({ sort: "index", desc: false, offset, limit: FEATURE_TABLE_MAX_LIMIT });
    rows.push(...page.rows);
    if (offset + FEATURE_TABLE_MAX_LIMIT >= page.total) return rows;
  }
}

/** The rows as CSV text: a header line, then one line per row (CRLF-free: `\n` line ends). */
export function featureTableCsv(rows: readonly FeatureTableRow[]): string {
  const columns = featureCsvColumns(rows);
  const cell = (v: string | number | null): string => (v === null ? "" : typeof v === "number" ? String(v) : v);
  return stringify(
    rows.map((r) => columns.map((c) => cell((r as unknown as Record<string, string | number | null>)[c] ?? null))),
    { header: true, columns, record_delimiter: "unix" },
  );
}
