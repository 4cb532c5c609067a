/** `saekit serve`, `saekit demo` and `saekit dashboard` on the fixture workspace. */
import fs from "node:fs";
import { captureCliOutput, runCli } from "../helpers/cli.js";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { RunsResponse, StaticPageData } from "../../src/vis/api-types.js";
import { buildFixture, LIVE, type Fixture } from "./fixture.js";

/** Where `saekit demo` looks for the shipped models (the fixture, or an empty folder). */
const shipped = vi.hoisted(() => ({ root: "" }));
vi.mock("../../src/analysis/workspace.js", async (importOriginal) => {
  const actual = await importOriginal<typeof import("../../src/analysis/workspace.js")>();
  return { ...actual, shippedModelsRoot: () => shipped.root };
});


let fx: Fixture;
let out: string;
const cli = captureCliOutput();

beforeAll(async () => {
  fx = await buildFixture();
  out = fs.mkdtempSync(path.join(os.tmpdir(), "saekit-dash-"));
});
afterAll(() => {
  fx?.cleanup();
  if (out) fs.rmSync(out, { recursive: true, force: true });
});

const run = runCli;

/** The data a self-contained page carries. */
function pageData(file: string): StaticPageData {
  const html = fs.readFileSync(file, "utf8");
  const m = /<script type="application\/json" id="saekit-data">([\s\S]*?)<\/script>/.exec(html);
  expect(m, "inline data").not.toBeNull();
  expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href="(?!data:)/); // nothing fetched from elsewhere
  return JSON.parse(m![1]!) as StaticPageData;
}

/** Runs a serving command until its URL is printed, calls `body`, then stops it as Ctrl-C would. */
async function whileServing(args: string[], body: (url: string) => Promise<void>): Promise<void> {
  const done = run(...args);
  let url: string | undefined;
  for (let i = 0; i < 400 && !url; i++) {
    await new Promise((r) => setTimeout(r, 25));
    url = /http:\/\/127\.0\.0\.1:\d+\//.exec(cli.text())?.[0];
    if (process.exitCode) break;
  }
  try {
    expect(url, cli.text()).toBeDefined();
    await body(url!);
  } finally {
    process.emit("SIGINT");
    await done;
  }
  expect(cli.text()).toMatch(/SIGINT: stopping the server/);
  await expect(fetch(`${url}api/runs`)).rejects.toThrow();
}

describe("saekit dashboard", () => {
  it("--feature writes a self-contained feature page with its comparisons", async () => {
    const file = path.join(out, "f.html");
    await run("dashboard", "--feature", `A/1/${LIVE}`, "--out", file, "--models", fx.root);
    expect(process.exitCode ?? 0, cli.text()).toBe(0);
    expect(cli.text()).toMatch(/wrote .*f\.html/);
    const data = pageData(file);
    if (data.page !== "feature") throw new Error("not a feature page");
    expect(data.unit.name).toBe(`A/1/${LIVE}`);
    expect(data.run?.name).toBe("A/1");
    // vs the best-correlated neuron and vs the best match in B/1
    expect(data.comparisons.map((c) => c.b)).toEqual([data.unit.neurons!.correlated[0]!.name, data.unit.matches["B/1"]!.name]);
    expect(data.comparisons[0]!.activations.r).toBeCloseTo(data.unit.neurons!.correlated[0]!.r, 3);
  });

  it("--feature takes neurons too", async () => {
    const file = path.join(out, "n.html");
    await run("dashboard", "--feature", "B/neuron/4", "--out", file, "--models", fx.root);
    expect(process.exitCode ?? 0, cli.text()).toBe(0);
    const data = pageData(file);
    expect(data.page === "feature" && data.unit.kind).toBe("neuron");
  });

  it("--prompt writes the prompt page with the top-ranked features' records", async () => {
    const file = path.join(out, "p.html");
    await run("dashboard", "--prompt", "def append(self, item):", "--out", file, "--models", fx.root);
    expect(process.exitCode ?? 0, cli.text()).toBe(0);
    const data = pageData(file);
    if (data.page !== "prompt") throw new Error("not a prompt page");
    expect(data.prompt.run).toBe("A/1");
    expect(data.prompt.text).toBe("def append(self, item):");
    const top = data.prompt.rankings.maxActivation.slice(0, 10).map((s) => s.name);
    expect(top.length).toBeGreaterThan(0);
    for (const name of top) expect(data.units[name]?.name).toBe(name);
    await run("dashboard", "--prompt", "x = 1", "--run", "B/1", "--out", file, "--models", fx.root);
    expect(pageData(file).page === "prompt" && (pageData(file) as { prompt: { run: string } }).prompt.run).toBe("B/1");
  });

  it("clear errors", async () => {
    const file = path.join(out, "e.html");
    const expectFailure = async (args: string[], message: RegExp) => {
      cli.clear();
      process.exitCode = undefined;
      await run("dashboard", ...args, "--models", fx.root);
      expect(process.exitCode).toBe(1);
      expect(cli.text()).toMatch(message);
    };
    await expectFailure(["--out", file], /give exactly one of --feature NAME, --prompt TEXT or --atlas MODEL$/m);
    await expectFailure(["--feature", "A/1/1", "--prompt", "x", "--out", file], /exactly one .* \(got 2\)/);
    await expectFailure(["--feature", "A/1/xyz", "--out", file], /malformed unit name "A\/1\/xyz"/);
    await expectFailure(["--feature", "A/1/999", "--out", file], /A\/1 has 64 features/);
    await expectFailure(["--prompt", "hi", "--run", "A/neuron", "--out", file], /prompts are analysed on an SAE run/);
    await expectFailure(["--feature", "A/1/1", "--out", path.join(out, "no", "such", "f.html")], /does not exist/);
    expect(fs.existsSync(file)).toBe(false);
  });
});

describe("saekit serve and demo", () => {
  it("serve prints the URL and serves until Ctrl-C", async () => {
    await whileServing(["serve", "--models", fx.root, "--port", "0"], async (url) => {
      expect(cli.text()).toMatch(/A\/1, A\/neuron, B\/1, B\/neuron/);
      const runs = (await (await fetch(`${url}api/runs`)).json()) as RunsResponse;
      expect(runs.runs).toHaveLength(4);
      expect((await fetch(`${url}feature/A/1/${LIVE}`)).headers.get("content-type")).toMatch(/text\/html/);
    });
  });

  it("serve: bad flags and empty folders are clear errors", async () => {
    await run("serve", "--port", "70000");
    expect(process.exitCode).not.toBe(0);
    expect(cli.text()).toMatch(/--port must be an integer in \[0, 65535\]/);
    cli.clear();
    process.exitCode = undefined;
    await run("serve", "--models", out, "--port", "0");
    expect(process.exitCode).toBe(1);
    expect(cli.text()).toMatch(/no investigations under .*saekit analyze --sae/);
  });

  it("demo serves the shipped models and prints a three-step tour", async () => {
    shipped.root = fx.root;
    await whileServing(["demo", "--port", "0"], async (url) => {
      const text = cli.text();
      expect(text).toMatch(/ 1\. Open http/);
      expect(text).toMatch(new RegExp(` 2\\. Open a feature page, e\\.g\\. ${url}feature/A/1/\\d+`));
      expect(text).toMatch(/ 3\. Open http.*\/prompt/);
      const feature = new RegExp(`${url}feature/(A/1/\\d+)`).exec(text)![1]!;
      expect((await fetch(`${url}api/unit/${feature}`)).status).toBe(200);
    });
  });

  it("demo without the shipped investigations names the command that computes them", async () => {
    shipped.root = out;
    await run("demo", "--port", "0");
    expect(process.exitCode).toBe(1);
    expect(cli.text()).toMatch(/shipped investigations are missing.*\n.*cd \S+ && saekit analyze --sae A\/1 --compare B\/1/);
  });
});
