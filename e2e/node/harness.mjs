// Test harness: a built ditto binary in front of an @copilotkit/aimock
// upstream, both on random loopback ports, and an official `openai` client
// whose every response is captured and checked against OpenAI's OpenAPI
// schemas.
import { spawn, execFileSync } from "node:child_process";
import { freePort } from "../lib/net.mjs";
import http from "node:http";
import { pipeline } from "node:stream";
import { mkdtempSync, writeFileSync, rmSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createHash } from "node:crypto";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { LLMock } from "@copilotkit/aimock";
import { getEncoding } from "js-tiktoken";
import { check } from "./schema.mjs";

const E2E = fileURLToPath(new URL("..", import.meta.url));
const REPO = join(E2E, "..");

// dittoBinary returns DITTO_BIN, or builds ./cmd/ditto into e2e/.bin (a
// no-op when it is up to date, so each test file may call it).
export function dittoBinary() {
  if (process.env.DITTO_BIN) return process.env.DITTO_BIN;
  const out = join(E2E, ".bin", "ditto");
  mkdirSync(join(E2E, ".bin"), { recursive: true });
  execFileSync("go", ["build", "-o", out, "./cmd/ditto"], { cwd: REPO, stdio: "inherit", timeout: 300_000 });
  return out;
}

export { freePort };

// startUpstream starts aimock on a random loopback port. strict: a request
// no fixture matches gets a 503 instead of a silent 404.
export async function startUpstream() {
  const mock = new LLMock({ host: "127.0.0.1", port: 0, strict: true, logLevel: "silent", journalMaxEntries: 0 });
  await mock.start();
  return mock;
}

// journal reads aimock's request journal over HTTP (GET /__aimock/journal),
// optionally only the entries whose path contains pathPart.
export async function journal(mock, pathPart = "") {
  const res = await fetch(`${mock.url}/__aimock/journal`);
  assert.equal(res.status, 200, "GET /__aimock/journal");
  const all = await res.json();
  return all.filter((e) => !pathPart || e.path.includes(pathPart));
}

// upstreamCalls returns the POSTs in the journal whose body mentions marker
// (each test uses its own marker in its prompt).
export async function upstreamCalls(mock, marker) {
  const entries = await journal(mock);
  return entries.filter((e) => e.method === "POST" && JSON.stringify(e.body ?? "").includes(marker));
}

// forward sends req (its body already read) to target and streams the
// answer back unchanged. An upstream that drops the connection mid-body
// must look the same through the proxy: ours is cut too.
function forward(target, req, res, body) {
  const up = http.request(new URL(req.url, target), { method: req.method, headers: req.headers }, (upRes) => {
    res.writeHead(upRes.statusCode, upRes.headers);
    pipeline(upRes, res, (err) => err && res.destroy(err));
  });
  up.on("error", (err) => {
    if (res.headersSent) return res.destroy(err);
    res.writeHead(502, { "content-type": "text/plain" });
    res.end(String(err));
  });
  up.end(body);
}

// withBody is an HTTP server whose handler gets each request's whole body.
function withBody(handler) {
  return http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (d) => chunks.push(d));
    req.on("end", () => handler(req, res, Buffer.concat(chunks)));
  });
}

// startTap starts a pass-through proxy in front of target that records
// each request's raw bytes (aimock's journal shows its own parsed view, not
// the wire format ditto sent) and streams the answer back unchanged.
export async function startTap(target) {
  const requests = [];
  const server = withBody((req, res, body) => {
    requests.push({ method: req.method, path: req.url, headers: req.headers, body: body.toString("utf8") });
    forward(target, req, res, body);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    requests,
    // find returns the parsed bodies of requests whose raw body has marker.
    find: (marker) => requests.filter((r) => r.body.includes(marker)).map((r) => ({ ...r, json: JSON.parse(r.body) })),
    stop: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(resolve); }),
  };
}

// startDitto runs the ditto binary against upstream base URLs. opts.config
// is YAML written to a temp file and passed as DITTO_CONFIG. The process is
// killed by stop() (and when this test process exits).
export async function startDitto({ openai, anthropic, gemini, config, env = {} } = {}) {
  const bin = dittoBinary();
  const dir = mkdtempSync(join(tmpdir(), "ditto-e2e-"));
  const vars = {
    PATH: process.env.PATH,
    HOME: process.env.HOME ?? dir,
    DITTO_LOG_LEVEL: "warn",
    DITTO_LOG_FORMAT: "text",
    OPENAI_API_KEY: "sk-ditto-upstream-openai",
    ANTHROPIC_API_KEY: "sk-ditto-upstream-anthropic",
    GEMINI_API_KEY: "ditto-upstream-gemini",
    ...env,
  };
  if (openai) vars.OPENAI_BASE_URL = openai;
  if (anthropic) vars.ANTHROPIC_BASE_URL = anthropic;
  if (gemini) vars.GEMINI_BASE_URL = gemini;
  if (config) {
    writeFileSync(join(dir, "ditto.yaml"), config);
    vars.DITTO_CONFIG = join(dir, "ditto.yaml");
  }
  let lastErr;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const proc = spawn(bin, [], { env: { ...vars, DITTO_ADDR: `127.0.0.1:${port}` }, stdio: ["ignore", "pipe", "pipe"] });
    let logs = "";
    proc.stdout.on("data", (d) => (logs += d));
    proc.stderr.on("data", (d) => (logs += d));
    const exited = new Promise((resolve) => proc.once("exit", (code, sig) => resolve({ code, sig })));
    const kill = () => proc.exitCode === null && proc.signalCode === null && proc.kill("SIGKILL");
    process.once("exit", kill);
    try {
      await waitHealthy(url, exited);
    } catch (err) {
      kill();
      process.off("exit", kill);
      lastErr = new Error(`ditto did not start on ${url}: ${err.message}\n${logs}`);
      continue;
    }
    const stop = async () => {
      process.off("exit", kill);
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill("SIGTERM");
        const t = setTimeout(kill, 5000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    };
    return { url, proc, stop, logs: () => logs };
  }
  rmSync(dir, { recursive: true, force: true });
  throw lastErr;
}

async function waitHealthy(url, exited) {
  const deadline = Date.now() + 15_000;
  let gone = null;
  exited.then((r) => (gone = r));
  while (Date.now() < deadline) {
    if (gone) throw new Error(`exited early (${gone.code ?? gone.sig})`);
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("timed out waiting for /healthz");
}

// Recorder wraps fetch so that every response the SDK receives is also
// captured (via a clone) for schema validation.
export class Recorder {
  constructor() {
    this.pending = [];
    this.fetch = async (input, init) => {
      const res = await fetch(input, init);
      const url = typeof input === "string" ? input : input.url ?? String(input);
      const method = init?.method ?? "GET";
      const reqBody = typeof init?.body === "string" ? init.body : undefined;
      const copy = res.clone();
      this.pending.push(
        copy.text().then(
          (text) => ({ url, method, reqBody, status: res.status, headers: res.headers, text }),
          (err) => ({ url, method, reqBody, status: res.status, headers: res.headers, text: "", readError: err }),
        ),
      );
      return res;
    };
  }

  // take returns the exchanges captured since the last take.
  async take() {
    const out = await Promise.all(this.pending);
    this.pending = [];
    return out;
  }
}

// client returns an official OpenAI client pointed at ditto, with retries
// off and a recorder capturing every response.
export function client(url, opts = {}) {
  const recorder = new Recorder();
  const c = new OpenAI({
    baseURL: `${url}/v1`,
    apiKey: "sk-ditto-client",
    maxRetries: 0,
    timeout: 20_000,
    fetch: recorder.fetch,
    ...opts,
  });
  c.recorder = recorder;
  return c;
}

// parseSSE splits an SSE body into its data payloads.
export function parseSSE(text) {
  const events = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    const data = block
      .split(/\r?\n/)
      .filter((l) => l.startsWith("data:"))
      .map((l) => l.slice(5).replace(/^ /, ""));
    if (data.length) events.push(data.join("\n"));
  }
  return events;
}

// violations checks one captured exchange against the schema its endpoint
// and status call for, and returns what does not conform.
export function violations(x) {
  const path = new URL(x.url).pathname;
  const out = [];
  const ct = x.headers.get("content-type") ?? "";
  if (x.readError) return [`${x.method} ${path}: body could not be read: ${x.readError}`];
  if (x.status >= 400) {
    if (!ct.startsWith("application/json")) out.push(`${path} ${x.status}: Content-Type ${ct}, want application/json`);
    return out.concat(check("ErrorResponse", JSON.parse(x.text)).map((v) => `${x.method} ${path} ${x.status}: ${v}`));
  }
  if (path.endsWith("/models")) {
    return check("ListModelsResponse", JSON.parse(x.text)).map((v) => `GET ${path}: ${v}`);
  }
  if (/\/models\/[^/]+$/.test(path)) {
    return check("Model", JSON.parse(x.text)).map((v) => `GET ${path}: ${v}`);
  }
  if (path.endsWith("/chat/completions")) {
    if (ct.startsWith("text/event-stream")) {
      // A stream ends with data: [DONE], or, when it failed after it
      // started, with one error event in OpenAI's shape (as OpenAI sends).
      const events = parseSSE(x.text);
      const failed = events.length > 0 && events.at(-1) !== "[DONE]" && "error" in JSON.parse(events.at(-1));
      if (events.at(-1) !== "[DONE]" && !failed) out.push(`${path}: stream does not end with data: [DONE] or an error event`);
      events.forEach((e, i) => {
        const last = i === events.length - 1;
        if (e === "[DONE]") {
          if (!last) out.push(`${path}: [DONE] before the end of the stream`);
          return;
        }
        const schema = last && failed ? "ErrorResponse" : "CreateChatCompletionStreamResponse";
        for (const v of check(schema, JSON.parse(e))) out.push(`chunk ${i}: ${v}\n  ${e}`);
      });
      return out;
    }
    return check("CreateChatCompletionResponse", JSON.parse(x.text)).map((v) => `POST ${path}: ${v}\n  ${x.text}`);
  }
  return [`${x.method} ${path}: no schema for this endpoint`];
}

// conforms asserts that every exchange the client captured since the last
// call conforms to OpenAI's schemas, and returns the exchanges.
export async function conforms(c) {
  const xs = await c.recorder.take();
  const bad = xs.flatMap(violations);
  assert.deepEqual(bad, [], `responses that do not conform to OpenAI's OpenAPI schemas:\n${bad.join("\n")}`);
  return xs;
}

// rawPost sends body verbatim (a string) and returns status, headers and
// the text; the exchange is schema-checked too.
export async function rawPost(url, body, headers = {}) {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
  const text = await res.text();
  const x = { url: `${url}/v1/chat/completions`, method: "POST", reqBody: body, status: res.status, headers: res.headers, text };
  const bad = violations(x);
  assert.deepEqual(bad, [], `response does not conform to OpenAI's OpenAPI schemas:\n${bad.join("\n")}`);
  return x;
}

// wantCache asserts X-Ditto-Cache (and its companions) on headers.
export function wantCache(headers, status) {
  assert.equal(headers.get("x-ditto-cache"), status, "X-Ditto-Cache");
  const cs = headers.get("cache-status") ?? "";
  if (status === "HIT") {
    assert.equal(cs, "ditto; hit", "Cache-Status");
    assert.match(headers.get("age") ?? "", /^\d+$/, "Age on a hit");
  } else if (status === "MISS") {
    assert.match(cs, /^ditto; fwd=uri-miss/, "Cache-Status");
  }
  assert.match(headers.get("x-ditto-cache-key") ?? "", /^ditto:v/, "X-Ditto-Cache-Key");
}

// A 1x1 PNG, for image content parts.
export const PNG_1x1 =
  "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";
export const PNG_1x1_RED =
  "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";

// cacheLog wraps fetch for clients that do not expose response headers
// (the Vercel AI SDK, LangChain, the Anthropic SDK): it records each
// response's path, status and cache headers. take() returns the records
// since the last take.
export function cacheLog() {
  let log = [];
  return {
    fetch: async (input, init) => {
      const res = await fetch(input, init);
      const url = typeof input === "string" ? input : input.url ?? String(input);
      log.push({
        path: new URL(url).pathname,
        status: res.status,
        cache: res.headers.get("x-ditto-cache"),
        key: res.headers.get("x-ditto-cache-key"),
        items: res.headers.get("x-ditto-cache-items"),
        headers: res.headers,
      });
      return res;
    },
    take() {
      const out = log;
      log = [];
      return out;
    },
  };
}

// vectorFor is the embedding startEmbedder answers for one input: dims
// values derived from a SHA-256 of the input, each a multiple of 1/128 in
// [-1, 1) so that float32 carries it exactly.
export function vectorFor(input, dims = 8) {
  const out = [];
  let block = Buffer.alloc(0);
  for (let i = 0; out.length < dims; i++) {
    if (i % 32 === 0) block = createHash("sha256").update(`${i}:${JSON.stringify(input)}`).digest();
    out.push((block[i % 32] - 128) / 128);
  }
  return out;
}

const cl100k = getEncoding("cl100k_base");

// tokensOf counts an embeddings input as OpenAI does: a text by its
// cl100k_base tokens, a token array by its length.
export function tokensOf(input) {
  return typeof input === "string" ? cl100k.encode(input).length : input.length;
}

// startEmbedder starts an OpenAI-compatible upstream that answers POST
// …/embeddings itself (one vectorFor per input, in order, usage counted
// by tokensOf, float or base64 as asked) and passes every other request
// through to target (aimock, which has no per-input embeddings). calls
// holds each embeddings request's parsed body.
export async function startEmbedder(target) {
  const calls = [];
  const server = withBody((req, res, body) => {
    if (req.method === "POST" && req.url.endsWith("/embeddings")) {
      const b = JSON.parse(body.toString("utf8"));
      calls.push(b);
      const inputs =
        typeof b.input === "string" ? [b.input] : typeof b.input[0] === "number" ? [b.input] : b.input;
      const dims = b.dimensions ?? 8;
      const data = inputs.map((inp, index) => {
        const v = vectorFor(inp, dims);
        const embedding = b.encoding_format === "base64" ? Buffer.from(new Float32Array(v).buffer).toString("base64") : v;
        return { object: "embedding", index, embedding };
      });
      const n = inputs.reduce((s, inp) => s + tokensOf(inp), 0);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ object: "list", data, model: b.model, usage: { prompt_tokens: n, total_tokens: n } }));
      return;
    }
    forward(target, req, res, body);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    calls,
    // find returns the embeddings calls whose body mentions marker.
    find: (marker) => calls.filter((b) => JSON.stringify(b).includes(marker)),
    stop: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(resolve); }),
  };
}
