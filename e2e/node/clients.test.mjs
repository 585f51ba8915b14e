// Today's popular clients, pinned exactly in package.json, pointed at ditto
// by base URL alone: the `openai` npm SDK (Responses, Embeddings), the
// Vercel AI SDK's default OpenAI provider (`ai` + `@ai-sdk/openai`, which
// calls /v1/responses), LangChain (`@langchain/openai`, Chat Completions and
// useResponsesApi, embeddings) and the official `@anthropic-ai/sdk`
// (/v1/messages). Each is a miss and then a hit, with the upstream calls
// counted; the last block sends one request in three dialects and an
// embeddings batch that is half cached.
//
// Upstream: aimock for chat (ditto translates Responses to the upstream's
// Chat Completions, and Messages too for non-Anthropic models; claude-*
// goes to aimock's Anthropic /v1/messages) and startEmbedder for
// /v1/embeddings (one distinct vector per input, so order and per-item
// caching are visible).
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, streamText, embed, embedMany } from "ai";
import { ChatOpenAI, OpenAIEmbeddings } from "@langchain/openai";
import {
  startUpstream,
  startEmbedder,
  startDitto,
  upstreamCalls,
  wantCache,
  cacheLog,
  vectorFor,
  tokensOf,
} from "./harness.mjs";

const MODEL = "gpt-4o-mini";
const CLAUDE = "claude-sonnet-4-5";
const EMBED = "text-embedding-3-small";

const weather = {
  name: "get_weather",
  description: "Get the current weather in a city",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
};

// statuses returns the X-Ditto-Cache values of the records on path.
const statuses = (records, path) => records.filter((r) => r.path === path).map((r) => r.cache);

// f32 is a vector as float32 carries it (what a base64 answer decodes to).
const f32 = (v) => Array.from(new Float32Array(v));

describe("real clients → ditto (Responses, Embeddings, Messages)", { timeout: 120_000 }, () => {
  let mock, embedder, ditto, oai;

  before(async () => {
    mock = await startUpstream();
    const answers = {
      "[rs-plain]": "Responses, answered once.",
      "[rs-stream]": "A streamed Responses answer, event by event.",
      "[ai-gen]": "The AI SDK got this.",
      "[ai-stream]": "The AI SDK streamed this, then replayed it.",
      "[lc-chat]": "LangChain over chat completions.",
      "[lc-resp]": "LangChain over the Responses API.",
      "[an-plain]": "Hello from Claude, via ditto.",
      "[an-stream]": "Claude streamed this through ditto.",
      "[an-gpt]": "An Anthropic client, an OpenAI model.",
      "[x-dialect]": "One answer in three dialects.",
    };
    for (const [marker, content] of Object.entries(answers)) {
      mock.onMessage(marker, { content, usage: { prompt_tokens: 12, completion_tokens: 7, total_tokens: 19 } });
    }
    for (const marker of ["[rs-tool]", "[ai-tool]", "[an-tool]", "[an-tool-stream]"]) {
      mock.onMessage(marker, { toolCalls: [{ id: `call_${marker.slice(1, -1)}`, name: "get_weather", arguments: { city: "Paris" } }] });
    }
    embedder = await startEmbedder(mock.url);
    ditto = await startDitto({ openai: `${embedder.url}/v1`, anthropic: mock.url });
    oai = new OpenAI({ baseURL: `${ditto.url}/v1`, apiKey: "sk-ditto-client", maxRetries: 0, timeout: 20_000 });
  });

  after(async () => {
    await ditto?.stop();
    await embedder?.stop();
    await mock?.stop();
  });

  describe("openai npm SDK", () => {
    it("responses.create: MISS, then HIT with the same response", async () => {
      const params = { model: MODEL, instructions: "Be brief.", input: "[rs-plain] say hello", max_output_tokens: 64 };
      const first = await oai.responses.create(params).withResponse();
      wantCache(first.response.headers, "MISS");
      assert.equal(first.data.object, "response");
      assert.equal(first.data.status, "completed");
      assert.equal(first.data.output_text, "Responses, answered once.");
      assert.deepEqual(
        { i: first.data.usage.input_tokens, o: first.data.usage.output_tokens, t: first.data.usage.total_tokens },
        { i: 12, o: 7, t: 19 },
      );
      const second = await oai.responses.create(params).withResponse();
      wantCache(second.response.headers, "HIT");
      assert.equal(second.data.output_text, first.data.output_text);
      assert.deepEqual(second.data.output, first.data.output);
      assert.equal((await upstreamCalls(mock, "[rs-plain]")).length, 1, "one upstream call");
    });

    it("responses.create stream: typed response.* events, MISS then HIT replay", async () => {
      const params = { model: MODEL, input: [{ role: "user", content: "[rs-stream] tell me" }], stream: true };
      const run = async (want) => {
        const { data: stream, response } = await oai.responses.create(params).withResponse();
        wantCache(response.headers, want);
        const types = [];
        let text = "";
        let completed;
        for await (const ev of stream) {
          types.push(ev.type);
          if (ev.type === "response.output_text.delta") text += ev.delta;
          if (ev.type === "response.completed") completed = ev.response;
        }
        assert.equal(types[0], "response.created");
        assert.equal(types.at(-1), "response.completed");
        assert.ok(types.includes("response.output_text.delta"), types.join(","));
        assert.ok(types.includes("response.output_text.done"), types.join(","));
        assert.equal(text, "A streamed Responses answer, event by event.");
        assert.equal(completed.status, "completed");
        assert.equal(completed.output_text ?? completed.output[0].content[0].text, text);
        return text;
      };
      await run("MISS");
      await run("HIT");
      assert.equal((await upstreamCalls(mock, "[rs-stream]")).length, 1, "one upstream call");
    });

    it("responses.stream() helper with a function tool: the call is parsed, then a HIT", async () => {
      const params = {
        model: MODEL,
        input: "[rs-tool] weather in Paris?",
        tools: [{ type: "function", strict: false, ...weather }],
      };
      const run = async () => {
        const stream = oai.responses.stream(params);
        const args = [];
        stream.on("response.function_call_arguments.delta", (ev) => args.push(ev.delta));
        const final = await stream.finalResponse();
        const call = final.output.find((o) => o.type === "function_call");
        assert.equal(call.name, "get_weather");
        assert.deepEqual(JSON.parse(call.arguments), { city: "Paris" });
        assert.equal(args.join(""), call.arguments);
        return call;
      };
      const a = await run();
      const b = await run();
      assert.equal(b.call_id, a.call_id);
      assert.equal((await upstreamCalls(mock, "[rs-tool]")).length, 1, "one upstream call");
    });

    it("embeddings.create (the SDK's default base64): MISS, then HIT with the same vectors", async () => {
      const input = ["[emb-sdk] first", "[emb-sdk] second", "[emb-sdk] third"];
      const first = await oai.embeddings.create({ model: EMBED, input }).withResponse();
      assert.equal(first.response.headers.get("x-ditto-cache"), "MISS");
      assert.equal(first.response.headers.get("x-ditto-cache-items"), "hit=0, fetched=3, total=3");
      assert.equal(first.response.headers.get("x-ditto-cache-key"), null, "a batch has a key per item, not one");
      assert.deepEqual(first.data.data.map((d) => d.index), [0, 1, 2]);
      first.data.data.forEach((d, i) => assert.deepEqual(d.embedding, f32(vectorFor(input[i]))));
      const tokens = input.reduce((s, x) => s + tokensOf(x), 0);
      assert.deepEqual(first.data.usage, { prompt_tokens: tokens, total_tokens: tokens });

      const second = await oai.embeddings.create({ model: EMBED, input }).withResponse();
      assert.equal(second.response.headers.get("x-ditto-cache"), "HIT");
      assert.equal(second.response.headers.get("x-ditto-cache-items"), "hit=3, fetched=0, total=3");
      assert.deepEqual(second.data.data, first.data.data);
      assert.deepEqual(second.data.usage, first.data.usage);

      // float, dimensions: another rendering of the same vectors is served
      // from the cache too when only encoding_format differs.
      const asFloat = await oai.embeddings.create({ model: EMBED, input, encoding_format: "float" }).withResponse();
      assert.equal(asFloat.response.headers.get("x-ditto-cache"), "HIT");
      assert.deepEqual(asFloat.data.data.map((d) => d.embedding), first.data.data.map((d) => d.embedding));
      assert.equal(embedder.find("[emb-sdk]").length, 1, "one upstream embeddings call");

      // One input: one item, whose key the answer carries like any entry's.
      const single = await oai.embeddings.create({ model: EMBED, input: input[1] }).withResponse();
      wantCache(single.response.headers, "HIT");
      assert.deepEqual(single.data.data[0].embedding, first.data.data[1].embedding);
    });
  });

  describe("Vercel AI SDK (ai + @ai-sdk/openai default provider → /v1/responses)", () => {
    let provider, log;
    before(() => {
      log = cacheLog();
      provider = createOpenAI({ baseURL: `${ditto.url}/v1`, apiKey: "sk-ditto-client", fetch: log.fetch });
    });

    it("generateText: MISS, then HIT", async () => {
      const call = () => generateText({ model: provider(MODEL), system: "Be brief.", prompt: "[ai-gen] hi", maxRetries: 0 });
      const a = await call();
      const b = await call();
      assert.equal(a.text, "The AI SDK got this.");
      assert.equal(b.text, a.text);
      assert.equal(a.finishReason, "stop");
      assert.equal(b.finishReason, "stop");
      assert.equal(b.usage.inputTokens, 12);
      assert.equal(b.usage.outputTokens, 7);
      assert.deepEqual(statuses(log.take(), "/v1/responses"), ["MISS", "HIT"]);
      assert.equal((await upstreamCalls(mock, "[ai-gen]")).length, 1, "one upstream call");
    });

    it("streamText: MISS, then HIT replay with the same text", async () => {
      const call = async () => {
        const r = streamText({ model: provider(MODEL), prompt: "[ai-stream] go", maxRetries: 0 });
        let text = "";
        for await (const part of r.textStream) text += part;
        assert.equal(await r.finishReason, "stop");
        return text;
      };
      assert.equal(await call(), "The AI SDK streamed this, then replayed it.");
      assert.equal(await call(), "The AI SDK streamed this, then replayed it.");
      assert.deepEqual(statuses(log.take(), "/v1/responses"), ["MISS", "HIT"]);
      assert.equal((await upstreamCalls(mock, "[ai-stream]")).length, 1, "one upstream call");
    });

    it("generateText with a tool: the tool call comes back, then a HIT", async () => {
      const { jsonSchema, tool } = await import("ai");
      const tools = { get_weather: tool({ description: weather.description, inputSchema: jsonSchema(weather.parameters) }) };
      const call = () => generateText({ model: provider(MODEL), prompt: "[ai-tool] Paris?", tools, maxRetries: 0 });
      const a = await call();
      const b = await call();
      for (const r of [a, b]) {
        assert.equal(r.finishReason, "tool-calls");
        assert.equal(r.toolCalls.length, 1);
        assert.equal(r.toolCalls[0].toolName, "get_weather");
        assert.deepEqual(r.toolCalls[0].input, { city: "Paris" });
      }
      assert.deepEqual(statuses(log.take(), "/v1/responses"), ["MISS", "HIT"]);
      assert.equal((await upstreamCalls(mock, "[ai-tool]")).length, 1, "one upstream call");
    });

    it("embed and embedMany: MISS, then HIT, vectors in order", async () => {
      const model = provider.embedding(EMBED);
      const one = await embed({ model, value: "[ai-emb] one", maxRetries: 0 });
      const again = await embed({ model, value: "[ai-emb] one", maxRetries: 0 });
      assert.deepEqual(one.embedding, f32(vectorFor("[ai-emb] one")));
      assert.deepEqual(again.embedding, one.embedding);
      assert.equal(again.usage.tokens, tokensOf("[ai-emb] one"));

      const values = ["[ai-emb] one", "[ai-emb] two", "[ai-emb] three"];
      const many = await embedMany({ model, values, maxRetries: 0 });
      const manyAgain = await embedMany({ model, values, maxRetries: 0 });
      assert.deepEqual(many.embeddings, values.map((v) => f32(vectorFor(v))));
      assert.deepEqual(manyAgain.embeddings, many.embeddings);
      const records = log.take().filter((r) => r.path === "/v1/embeddings");
      assert.deepEqual(records.map((r) => r.cache), ["MISS", "HIT", "MISS", "HIT"]);
      assert.equal(records[2].items, "hit=1, fetched=2, total=3", "embedMany reused the embed() item");
      const calls = embedder.find("[ai-emb]");
      assert.equal(calls.length, 2, "upstream: embed's miss, then embedMany's two misses");
      assert.deepEqual(calls[1].input, ["[ai-emb] two", "[ai-emb] three"]);
    });
  });

  describe("LangChain (@langchain/openai)", () => {
    let log;
    before(() => (log = cacheLog()));
    const chat = (extra = {}) =>
      new ChatOpenAI({
        model: MODEL,
        apiKey: "sk-ditto-client",
        maxRetries: 0,
        configuration: { baseURL: `${ditto.url}/v1`, fetch: log.fetch },
        ...extra,
      });

    it("ChatOpenAI.invoke (Chat Completions): MISS, then HIT", async () => {
      const m = chat();
      const a = await m.invoke([["system", "Be brief."], ["human", "[lc-chat] hello"]]);
      const b = await m.invoke([["system", "Be brief."], ["human", "[lc-chat] hello"]]);
      assert.equal(a.content, "LangChain over chat completions.");
      assert.equal(b.content, a.content);
      assert.equal(b.usage_metadata.input_tokens, 12);
      assert.deepEqual(statuses(log.take(), "/v1/chat/completions"), ["MISS", "HIT"]);
      assert.equal((await upstreamCalls(mock, "[lc-chat]")).length, 1, "one upstream call");
    });

    it("ChatOpenAI with useResponsesApi: MISS, then HIT, invoke and stream", async () => {
      const m = chat({ useResponsesApi: true });
      const text = (msg) => (typeof msg.content === "string" ? msg.content : msg.content.map((p) => p.text ?? "").join(""));
      const a = await m.invoke("[lc-resp] hello");
      const b = await m.invoke("[lc-resp] hello");
      assert.equal(text(a), "LangChain over the Responses API.");
      assert.equal(text(b), text(a));
      let streamed = "";
      for await (const chunk of await m.stream("[lc-resp] hello")) streamed += text(chunk);
      assert.equal(streamed, "LangChain over the Responses API.");
      assert.deepEqual(statuses(log.take(), "/v1/responses"), ["MISS", "HIT", "HIT"], "the stream is served from the stored answer");
      assert.equal((await upstreamCalls(mock, "[lc-resp]")).length, 1, "one upstream call");
    });

    it("OpenAIEmbeddings: embedQuery and embedDocuments, MISS then HIT", async () => {
      const e = new OpenAIEmbeddings({
        model: EMBED,
        apiKey: "sk-ditto-client",
        maxRetries: 0,
        configuration: { baseURL: `${ditto.url}/v1`, fetch: log.fetch },
      });
      const docs = ["[lc-emb] alpha", "[lc-emb] beta"];
      const a = await e.embedDocuments(docs);
      const b = await e.embedDocuments(docs);
      assert.deepEqual(a, docs.map((d) => f32(vectorFor(d))));
      assert.deepEqual(b, a);
      const q = await e.embedQuery("[lc-emb] alpha");
      assert.deepEqual(q, a[0], "a query for a cached document is a hit");
      assert.deepEqual(statuses(log.take(), "/v1/embeddings"), ["MISS", "HIT", "HIT"]);
      assert.equal(embedder.find("[lc-emb]").length, 1, "one upstream embeddings call");
    });
  });

  describe("@anthropic-ai/sdk → /v1/messages", () => {
    let log, an;
    before(() => {
      log = cacheLog();
      an = new Anthropic({ baseURL: ditto.url, apiKey: "sk-ant-ditto-client", maxRetries: 0, timeout: 20_000, fetch: log.fetch });
    });

    it("messages.create: MISS, then HIT in Anthropic's shape", async () => {
      const params = { model: CLAUDE, max_tokens: 256, system: "Be brief.", messages: [{ role: "user", content: "[an-plain] hi" }] };
      const a = await an.messages.create(params);
      const b = await an.messages.create(params);
      for (const m of [a, b]) {
        assert.equal(m.type, "message");
        assert.equal(m.role, "assistant");
        assert.equal(m.stop_reason, "end_turn");
        assert.deepEqual(m.content, [{ type: "text", text: "Hello from Claude, via ditto." }]);
      }
      assert.equal(b.id, a.id);
      assert.deepEqual(b.usage, a.usage);
      assert.deepEqual(statuses(log.take(), "/v1/messages"), ["MISS", "HIT"]);
      assert.equal((await upstreamCalls(mock, "[an-plain]")).length, 1, "one upstream call");
    });

    it("messages.stream: Anthropic's event sequence, MISS then HIT replay", async () => {
      const params = { model: CLAUDE, max_tokens: 256, messages: [{ role: "user", content: "[an-stream] go" }] };
      const run = async () => {
        const stream = an.messages.stream(params);
        const types = [];
        stream.on("streamEvent", (ev) => types.push(ev.type));
        const final = await stream.finalMessage();
        assert.equal(types[0], "message_start");
        assert.equal(types.at(-1), "message_stop");
        for (const t of ["content_block_start", "content_block_delta", "content_block_stop", "message_delta"]) {
          assert.ok(types.includes(t), `${t} in ${types.join(",")}`);
        }
        assert.equal(final.stop_reason, "end_turn");
        return final.content.map((c) => c.text).join("");
      };
      assert.equal(await run(), "Claude streamed this through ditto.");
      assert.equal(await run(), "Claude streamed this through ditto.");
      assert.deepEqual(statuses(log.take(), "/v1/messages"), ["MISS", "HIT"]);
      assert.equal((await upstreamCalls(mock, "[an-stream]")).length, 1, "one upstream call");
    });

    it("tools: tool_use from create and from stream, each a MISS then a HIT", async () => {
      const tools = [{ name: weather.name, description: weather.description, input_schema: weather.parameters }];
      const created = async () =>
        an.messages.create({ model: CLAUDE, max_tokens: 256, tools, tool_choice: { type: "auto" }, messages: [{ role: "user", content: "[an-tool] Paris?" }] });
      for (const m of [await created(), await created()]) {
        assert.equal(m.stop_reason, "tool_use");
        const use = m.content.find((c) => c.type === "tool_use");
        assert.equal(use.name, "get_weather");
        assert.deepEqual(use.input, { city: "Paris" });
      }
      const streamed = async () =>
        an.messages.stream({ model: CLAUDE, max_tokens: 256, tools, messages: [{ role: "user", content: "[an-tool-stream] Paris?" }] }).finalMessage();
      for (const m of [await streamed(), await streamed()]) {
        assert.equal(m.stop_reason, "tool_use");
        const use = m.content.find((c) => c.type === "tool_use");
        assert.equal(use.name, "get_weather");
        assert.deepEqual(use.input, { city: "Paris" });
      }
      assert.deepEqual(statuses(log.take(), "/v1/messages"), ["MISS", "HIT", "MISS", "HIT"]);
      assert.equal((await upstreamCalls(mock, "[an-tool]")).length, 1, "one upstream call (create)");
      assert.equal((await upstreamCalls(mock, "[an-tool-stream]")).length, 1, "one upstream call (stream)");
    });

    it("a GPT model through the Anthropic SDK: routed to OpenAI, answered in Messages", async () => {
      const params = { model: MODEL, max_tokens: 128, messages: [{ role: "user", content: "[an-gpt] hi" }] };
      const a = await an.messages.create(params);
      const b = await an.messages.create(params);
      assert.deepEqual(a.content, [{ type: "text", text: "An Anthropic client, an OpenAI model." }]);
      assert.deepEqual(b.content, a.content);
      assert.deepEqual(statuses(log.take(), "/v1/messages"), ["MISS", "HIT"]);
      const calls = await upstreamCalls(mock, "[an-gpt]");
      assert.equal(calls.length, 1);
      assert.match(calls[0].path, /\/chat\/completions$/, "an OpenAI model is called over Chat Completions");
    });

    it("bad input gets Anthropic's error shape, which the SDK raises as BadRequestError", async () => {
      await assert.rejects(
        an.messages.create({ model: CLAUDE, messages: [{ role: "user", content: "no max_tokens" }] }),
        (err) => {
          assert.ok(err instanceof Anthropic.BadRequestError, String(err));
          assert.equal(err.error?.type, "error");
          assert.equal(err.error?.error?.type, "invalid_request_error");
          return true;
        },
      );
    });
  });

  describe("one cache across dialects", () => {
    it("chat, then responses, then messages of one request: 1 upstream call", async () => {
      const log = cacheLog();
      const c = new OpenAI({ baseURL: `${ditto.url}/v1`, apiKey: "sk-ditto-client", maxRetries: 0, fetch: log.fetch });
      const an = new Anthropic({ baseURL: ditto.url, apiKey: "sk-ant-ditto-client", maxRetries: 0, fetch: log.fetch });
      const system = "Answer in one sentence.";
      const prompt = "[x-dialect] what is a cache?";

      const chat = await c.chat.completions.create({
        model: MODEL,
        max_completion_tokens: 200,
        messages: [{ role: "system", content: system }, { role: "user", content: prompt }],
      });
      const resp = await c.responses.create({ model: MODEL, max_output_tokens: 200, instructions: system, input: prompt });
      const msg = await an.messages.create({ model: MODEL, max_tokens: 200, system, messages: [{ role: "user", content: prompt }] });

      const want = "One answer in three dialects.";
      assert.equal(chat.choices[0].message.content, want);
      assert.equal(chat.choices[0].finish_reason, "stop");
      assert.equal(resp.output_text, want);
      assert.equal(resp.status, "completed");
      assert.deepEqual(msg.content, [{ type: "text", text: want }]);
      assert.equal(msg.stop_reason, "end_turn");
      assert.deepEqual([chat.usage.prompt_tokens, resp.usage.input_tokens, msg.usage.input_tokens], [12, 12, 12]);
      assert.deepEqual([chat.usage.completion_tokens, resp.usage.output_tokens, msg.usage.output_tokens], [7, 7, 7]);

      const records = log.take();
      assert.deepEqual(records.map((r) => `${r.path} ${r.cache}`), [
        "/v1/chat/completions MISS",
        "/v1/responses HIT",
        "/v1/messages HIT",
      ]);
      assert.equal(new Set(records.map((r) => r.key)).size, 1, "one cache key for the three");
      assert.equal((await upstreamCalls(mock, "[x-dialect]")).length, 1, "one upstream call");
    });

    it("an embeddings batch with half its inputs cached: one upstream call with only the misses", async () => {
      const cached = ["[x-emb] a", "[x-emb] b"];
      const batch = ["[x-emb] a", "[x-emb] c", "[x-emb] b", "[x-emb] d"];
      await oai.embeddings.create({ model: EMBED, input: cached, encoding_format: "float" });
      const { data, response } = await oai.embeddings
        .create({ model: EMBED, input: batch, encoding_format: "float" })
        .withResponse();
      assert.equal(response.headers.get("x-ditto-cache"), "MISS");
      assert.equal(response.headers.get("x-ditto-cache-items"), "hit=2, fetched=2, total=4");
      assert.deepEqual(data.data.map((d) => d.index), [0, 1, 2, 3]);
      assert.deepEqual(data.data.map((d) => d.embedding), batch.map((x) => vectorFor(x)));
      const tokens = batch.reduce((s, x) => s + tokensOf(x), 0);
      assert.deepEqual(data.usage, { prompt_tokens: tokens, total_tokens: tokens }, "usage covers all four");

      const calls = embedder.find("[x-emb]");
      assert.equal(calls.length, 2, "the first batch, then one call for the misses");
      assert.deepEqual(calls[1].input, ["[x-emb] c", "[x-emb] d"]);
    });
  });
});
