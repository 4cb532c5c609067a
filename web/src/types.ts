/** The data types the app renders: the server contract and the analysis records it carries (type-only). */
export type {
  CompareResponse,
  ErrorResponse,
  PromptAnalysis,
  RunInfo,
  RunsResponse,
  SearchResponse,
  StaticPageData,
  UnitRecord,
} from "../../src/vis/api-types.js";
export type {
  Example,
  ExampleToken,
  PromptFeatureScore,
  ProxyBin,
  TokenWeight,
} from "../../src/analysis/investigation.js";
