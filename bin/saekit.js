#!/usr/bin/env node
// Entry point of the `saekit` command; the compiled CLI lives in dist/ (built by `npm run build` at install).
import { main } from "../dist/src/cli/main.js";

await main();
