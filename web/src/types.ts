/** The data types the app renders: the server contract (src/vis/api-types.ts, imported as `saekit/api`; type-only). */
export type {
  CompareResponse,
  ErrorResponse,
  Example,
  ExampleToken,
  FeaturesResponse,
  FeatureTableRow,
  PromptAnalysis,
  PromptFeatureScore,
  ProxyBin,
  RunInfo,
  RunsResponse,
  SearchResponse,
  SteerResult,
  StaticPageData,
  TokenWeight,
  UnitRecord,
} from "saekit/api";
