/** The result types of steering (steering.ts), without imports: the browser app reads them through saekit/api. */

export type SteerMode = "clamp" | "add" | "scale";

export interface NextTokenShift {
  id: number;
  text: string;
  before: number;
  after: number;
}

export interface SteerResult {
  run: string;
  prompt: string;
  promptTokens: string[];
  /** Each prompt token's raw bytes (byte-level BPE), so a page can merge split UTF-8 characters for display. */
  promptTokenBytes?: number[][];
  features: { name: string; index: number; mode: SteerMode; value: number; label: string }[];
  temperature: number;
  seed: number;
  unsteered: { text: string; tokens: string[] };
  steered: { text: string; tokens: string[] };
  /** The next-token distribution after prompt token `position`, without and with steering. */
  nextToken: {
    position: number;
    token: string;
    topBefore: NextTokenShift[];
    topAfter: NextTokenShift[];
    /** Largest rises and falls of probability. */
    raised: NextTokenShift[];
    lowered: NextTokenShift[];
  };
}

