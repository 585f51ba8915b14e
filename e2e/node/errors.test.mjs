// Errors reach the official SDK as its typed errors (BadRequestError,
// AuthenticationError, …) with OpenAI's error body, whether ditto or the
// upstream raised them, and are never cached.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { startUpstream, startDitto, client, conforms, upstreamCalls, wantCache, freePort } from "./harness.mjs";

const MODEL = "gpt-4o-mini";
const ask = (text, extra = {}) => ({ model: MODEL, messages: [{ role: "user", content: text }], ...extra });

// rejects runs fn and returns the error it throws, asserting its class.
async function rejects(fn, cls) {
  try {
    await fn();
  } catch (err) {
    assert.ok(err instanceof cls, `got ${err?.constructor?.name}: ${err?.message}, want ${cls.name}`);
    return err;
  }
  assert.fail(`no error, want ${cls.name}`);
}

describe("errors through the openai SDK", { timeout: 120_000 }, () => {
  let mock, ditto, c;

  before(async () => {
    mock = await startUpstream();
    mock.on({ userMessage: "[e400]" }, { error: { message: "Invalid value for 'seed'.", type: "invalid_request_error", code: "invalid_value" }, status: 400 });
    mock.on({ userMessage: "[e401]" }, { error: { message: "Incorrect API key provided.", type: "invalid_request_error", code: "invalid_api_key" }, status: 401 });
    mock.on({ userMessage: "[e403]" }, { error: { message: "Project does not have access.", type: "invalid_request_error", code: "model_not_allowed" }, status: 403 });
    mock.on({ userMessage: "[e404]" }, { error: { message: "The model `gpt-nope` does not exist.", type: "invalid_request_error", code: "model_not_found" }, status: 404 });
    mock.on({ userMessage: "[e429]" }, { error: { message: "Rate limit reached for requests.", type: "requests", code: "rate_limit_exceeded" }, status: 429 });
    mock.on({ userMessage: "[e500]" }, { error: { message: "The server had an error.", type: "server_error" }, status: 500 });
    mock.on({ userMessage: "[e503]" }, { error: { message: "The engine is currently overloaded.", type: "server_error" }, status: 503 });
    mock.onMessage("[recover]", { content: "Recovered." });
    // Retries off, so one upstream error is one client error.
    ditto = await startDitto({ openai: `${mock.url}/v1`, config: "upstream:\n  retries: 0\n" });
    c = client(ditto.url);
  });

  after(async () => {
    await ditto?.stop();
    await mock?.stop();
  });

  it("400 from ditto's own validation is a BadRequestError with param", async () => {
    const err = await rejects(() => c.chat.completions.create({ model: MODEL, messages: [] }), OpenAI.BadRequestError);
    assert.equal(err.status, 400);
    assert.equal(err.param, "messages");
    assert.equal(err.type, "invalid_request_error");
    const err2 = await rejects(
      () => c.chat.completions.create({ model: MODEL, messages: [{ role: "wizard", content: "hi" }] }),
      OpenAI.BadRequestError,
    );
    assert.equal(err2.param, "messages[0].role");
    const err3 = await rejects(() => c.chat.completions.create(ask("hi", { temperature: "hot" })), OpenAI.BadRequestError);
    assert.equal(err3.param, "temperature");
    await conforms(c);
  });

  const upstream = [
    ["[e400]", 400, OpenAI.BadRequestError, "Invalid value for 'seed'.", "invalid_value"],
    ["[e401]", 401, OpenAI.AuthenticationError, "Incorrect API key provided.", "invalid_api_key"],
    ["[e403]", 403, OpenAI.PermissionDeniedError, "Project does not have access.", "model_not_allowed"],
    ["[e404]", 404, OpenAI.NotFoundError, "The model `gpt-nope` does not exist.", "model_not_found"],
    ["[e429]", 429, OpenAI.RateLimitError, "Rate limit reached for requests.", "rate_limit_exceeded"],
    ["[e500]", 500, OpenAI.InternalServerError, "The server had an error.", null],
    ["[e503]", 503, OpenAI.InternalServerError, "The engine is currently overloaded.", null],
  ];
  for (const [marker, status, cls, message, code] of upstream) {
    it(`upstream ${status} keeps its status and message: ${cls.name}`, async () => {
      const err = await rejects(() => c.chat.completions.create(ask(`${marker} please`)), cls);
      assert.equal(err.status, status);
      assert.equal(err.error?.message, message);
      if (code) assert.equal(err.code, code);
      if (status === 429) assert.equal(err.headers.get("retry-after"), "1", "Retry-After passed through");
      // Streaming requests fail before the first chunk with the same error.
      const serr = await rejects(() => c.chat.completions.create(ask(`${marker} please`, { stream: true })), cls);
      assert.equal(serr.status, status);
      assert.equal((await upstreamCalls(mock, `${marker} please`)).length, 2, "errors are not cached");
      await conforms(c);
    });
  }

  it("an error is not cached: the retry is a MISS, then a HIT", async () => {
    mock.nextRequestError(429, { message: "Slow down.", type: "rate_limit_error", code: "rate_limit_exceeded" });
    const err = await rejects(() => c.chat.completions.create(ask("[recover] once")), OpenAI.RateLimitError);
    assert.equal(err.error.message, "Slow down.");
    const miss = await c.chat.completions.create(ask("[recover] once")).withResponse();
    wantCache(miss.response.headers, "MISS");
    assert.equal(miss.data.choices[0].message.content, "Recovered.");
    const hit = await c.chat.completions.create(ask("[recover] once")).withResponse();
    wantCache(hit.response.headers, "HIT");
    assert.equal((await upstreamCalls(mock, "[recover] once")).length, 2);
    await conforms(c);
  });

  it("only-if-cached on a miss is a 504 InternalServerError", async () => {
    const err = await rejects(
      () => c.chat.completions.create(ask("[recover] never asked"), { headers: { "Cache-Control": "only-if-cached" } }),
      OpenAI.InternalServerError,
    );
    assert.equal(err.status, 504);
    assert.equal((await upstreamCalls(mock, "[recover] never asked")).length, 0);
    await conforms(c);
  });

  it("an unknown endpoint is a NotFoundError in OpenAI's shape", async () => {
    const err = await rejects(() => c.get("/embeddings-nope"), OpenAI.NotFoundError);
    assert.equal(err.status, 404);
    assert.equal(typeof err.error?.message, "string");
    await conforms(c);
  });

  it("an unreachable upstream is a 5xx InternalServerError", async () => {
    const dead = await freePort(); // nothing listens there
    const d = await startDitto({ openai: `http://127.0.0.1:${dead}/v1`, config: "upstream:\n  retries: 0\n" });
    try {
      const dc = client(d.url);
      const err = await rejects(() => dc.chat.completions.create(ask("[recover] anyone?")), OpenAI.InternalServerError);
      assert.ok([502, 503, 504].includes(err.status), `status ${err.status}`);
      assert.doesNotMatch(err.message, /127\.0\.0\.1/, "the upstream address does not leak");
      await conforms(dc);
    } finally {
      await d.stop();
    }
  });
});
