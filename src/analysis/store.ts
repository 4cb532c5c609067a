/**
 * The investigation store, one folder per unit set: the format and record encoding (store/format.ts), the writer
 * (store/writer.ts), the validating reader (store/reader.ts), its search (store/search.ts) and the assembly of
 * records and manifests from the analysis' results (store/assemble.ts).
 */
export * from "./store/format.js";
export * from "./store/writer.js";
export * from "./store/reader.js";
export * from "./store/search.js";
