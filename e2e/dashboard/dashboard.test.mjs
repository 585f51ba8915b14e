// Browser test of GET /dashboard: a built ditto in front of a tiny fake
// OpenAI upstream, known traffic, then Debian's headless Chromium (driven by
// playwright-core; no browser is downloaded) reads the page.
//
// Traffic: gpt-4o-mini 3 misses + 7 hits (70.0%), gpt-4o 2 misses + 2 hits
// (50.0%) and one no-store bypass, which is not a miss. The test checks the
// per-model hit ratios shown, that the page refreshes itself, that it loads
// nothing from other origins and logs no errors, and saves a screenshot in
// screenshots/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { freePort } from "../lib/net.mjs";
import http from "node:http";
import { mkdtempSync, mkdirSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const HERE = fileURLToPath(new URL(".", import.meta.url));
const REPO = join(HERE, "..", "..");
const CHROMIUM = process.env.CHROMIUM_BIN || "/usr/bin/chromium";
const SHOTS = join(HERE, "screenshots");

let upstream, ditto, base, browserDir, context;
const dittoLog = [];


// fakeUpstream answers chat completions like OpenAI: the model asked for,
// 12 prompt and 8 completion tokens, after a short delay so misses are
// visibly slower than hits.
function fakeUpstream() {
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      if (req.method !== "POST" || !req.url.endsWith("/chat/completions")) {
        res.writeHead(404, { "content-type": "application/json" });
        return res.end('{"error":{"message":"not found","type":"invalid_request_error","param":null,"code":null}}');
      }
      const r = JSON.parse(body);
      const last = r.messages[r.messages.length - 1].content;
      const answer = {
        id: "chatcmpl-fake", object: "chat.completion", created: 1767225600, model: r.model,
        choices: [{ index: 0, message: { role: "assistant", content: "echo: " + last, refusal: null }, logprobs: null, finish_reason: "stop" }],
        usage: { prompt_tokens: 12, completion_tokens: 8, total_tokens: 20 },
      };
      setTimeout(() => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify(answer));
      }, 40);
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

async function waitHealthy(url) {
  for (let i = 0; i < 300; i++) {
    try {
      const r = await fetch(url + "/healthz");
      if (r.ok) return;
    } catch { /* not up yet */ }
    if (ditto.exitCode !== null) throw new Error("ditto exited: " + dittoLog.join(""));
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("ditto did not become healthy: " + dittoLog.join(""));
}

async function chat(model, prompt, headers = {}) {
  const r = await fetch(base + "/v1/chat/completions", {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ model, messages: [{ role: "user", content: prompt }] }),
  });
  await r.arrayBuffer();
  assert.equal(r.status, 200, `${model} ${prompt}: HTTP ${r.status}`);
  return r.headers.get("x-ditto-cache");
}

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium`);
  let bin = process.env.DITTO_BIN;
  if (!bin) {
    mkdirSync(join(HERE, ".bin"), { recursive: true });
    bin = join(HERE, ".bin", "ditto");
    execFileSync("go", ["build", "-o", bin, "./cmd/ditto"], { cwd: REPO, stdio: "inherit", timeout: 300_000 });
  }
  upstream = await fakeUpstream();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  ditto = spawn(bin, [], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME ?? tmpdir(),
      DITTO_ADDR: `127.0.0.1:${port}`,
      DITTO_LOG_LEVEL: "warn",
      DITTO_LOG_FORMAT: "text",
      OPENAI_BASE_URL: `http://127.0.0.1:${upstream.address().port}/v1`,
      OPENAI_API_KEY: "sk-dashboard-test",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  ditto.stdout.on("data", (d) => dittoLog.push(String(d)));
  ditto.stderr.on("data", (d) => dittoLog.push(String(d)));
  await waitHealthy(base);

  for (let i = 0; i < 3; i++) assert.equal(await chat("gpt-4o-mini", "question " + i), "MISS");
  for (let i = 0; i < 7; i++) assert.equal(await chat("gpt-4o-mini", "question " + (i % 3)), "HIT");
  for (let i = 0; i < 2; i++) assert.equal(await chat("gpt-4o", "other " + i), "MISS");
  for (let i = 0; i < 2; i++) assert.equal(await chat("gpt-4o", "other " + i), "HIT");
  assert.equal(await chat("gpt-4o", "other 0", { "cache-control": "no-store" }), "BYPASS");
  // A request is counted when its handler returns, which can be just after
  // the client has the answer: wait until all 15 are.
  for (let i = 0; ; i++) {
    const s = await (await fetch(base + "/v1/cache/stats")).json();
    if (s.totals.requests === 15) break;
    assert.ok(i < 100, `stats count ${s.totals.requests} requests, want 15`);
    await new Promise((r) => setTimeout(r, 100));
  }

  browserDir = mkdtempSync(join(tmpdir(), "ditto-chromium-"));
  context = await chromium.launchPersistentContext(browserDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1440, height: 900 },
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
});

after(async () => {
  await context?.close();
  if (browserDir) rmSync(browserDir, { recursive: true, force: true });
  ditto?.kill("SIGTERM");
  upstream?.closeAllConnections?.();
  await new Promise((r) => (upstream ? upstream.close(r) : r()));
});

test("the stats API reports the scripted traffic", async () => {
  const r = await fetch(base + "/v1/cache/stats?window=1h");
  assert.equal(r.status, 200);
  const s = await r.json();
  const mini = s.models.find((m) => m.model === "gpt-4o-mini");
  const g4 = s.models.find((m) => m.model === "gpt-4o");
  assert.deepEqual([mini.hits, mini.misses, mini.hit_ratio], [7, 3, 0.7]);
  assert.deepEqual([g4.hits, g4.misses, g4.bypasses, g4.hit_ratio], [2, 2, 1, 0.5]);
  assert.equal(s.store.kind, "memory");
});

test("the dashboard shows per-model hit ratios, refreshes itself, and logs no errors", async () => {
  const page = await context.newPage();
  const problems = [];
  const foreign = [];
  page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") problems.push(`console.${m.type()}: ${m.text()}`); });
  page.on("pageerror", (e) => problems.push("page error: " + e.message));
  page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on("request", (r) => { if (!r.url().startsWith(base) && !r.url().startsWith("data:")) foreign.push(r.url()); });

  const resp = await page.goto(base + "/dashboard", { waitUntil: "load" });
  assert.equal(resp.status(), 200);
  assert.match(resp.headers()["content-security-policy"], /default-src 'none'/);

  const ratio = (model) => page.locator(`[data-testid="model-row"][data-model="${model}"] [data-testid="hit-ratio"]`);
  await ratio("gpt-4o-mini").filter({ hasText: "70.0%" }).waitFor({ timeout: 20_000 });
  assert.equal(await ratio("gpt-4o-mini").textContent(), "70.0%");
  assert.equal(await ratio("gpt-4o").textContent(), "50.0%");
  // Overall: 9 hits of 14 lookups; the bypass is not a lookup.
  assert.equal(await page.locator('[data-testid="kpi-hit-ratio"]').textContent(), "64.3%");
  const rows = await page.locator('[data-testid="model-row"]').evaluateAll((els) => els.map((e) => e.dataset.model));
  assert.deepEqual(rows, ["gpt-4o-mini", "gpt-4o"], "models ordered by requests");
  assert.match(await page.locator('[data-testid="store-health"]').textContent(), /memory/);
  assert.ok(await page.locator('[data-testid="chart-ratio"] svg path.line').count() >= 2, "a hit-ratio line per model");

  // Usable on a laptop screen: nothing wider than the viewport.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `page is ${overflow}px wider than the viewport`);

  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, "dashboard.png"), fullPage: true });

  // One more hit: the open page picks it up on its own (8 of 11).
  assert.equal(await chat("gpt-4o-mini", "question 0"), "HIT");
  await ratio("gpt-4o-mini").filter({ hasText: "72.7%" }).waitFor({ timeout: 30_000 });

  // Focusing one model through the table.
  await page.locator('[data-testid="model-row"][data-model="gpt-4o"]').click();
  await page.locator('[data-testid="kpi-hit-ratio"]').filter({ hasText: "50.0%" }).waitFor({ timeout: 10_000 });
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(SHOTS, "dashboard-gpt-4o.png"), fullPage: true });

  assert.deepEqual(foreign, [], "requests to other origins");
  assert.deepEqual(problems, [], "console errors, page errors or failed requests");
  await page.close();
});
