// The official `openai` npm SDK against ditto, with aimock speaking OpenAI's
// wire format upstream. Every response and chunk is checked against
// OpenAI's OpenAPI schemas (conforms).
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { startUpstream, startDitto, client, conforms, upstreamCalls, wantCache, journal, PNG_1x1, PNG_1x1_RED } from "./harness.mjs";

const MODEL = "gpt-4o-mini";

const weatherTool = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Get the current weather in a city",
    parameters: {
      type: "object",
      properties: { city: { type: "string" }, unit: { type: "string", enum: ["c", "f"] } },
      required: ["city"],
      additionalProperties: false,
    },
  },
};

const timeTool = {
  type: "function",
  function: { name: "get_time", parameters: { type: "object", properties: { tz: { type: "string" } }, required: ["tz"] } },
};

describe("openai SDK → ditto → aimock (OpenAI wire)", { timeout: 120_000 }, () => {
  let mock, ditto, c;

  before(async () => {
    mock = await startUpstream();
    // Multi-turn: the second turn carries the tool result; match it first.
    mock.on(
      { toolCallId: "call_mt_weather", toolResultContains: "18C" },
      { content: "It is 18°C and cloudy in Paris.", usage: { prompt_tokens: 40, completion_tokens: 9, total_tokens: 49 } },
    );
    mock.onMessage("[mt] weather in Paris", {
      toolCalls: [{ id: "call_mt_weather", name: "get_weather", arguments: { city: "Paris" } }],
    });
    mock.onMessage("[plain]", {
      content: "Hello from aimock.",
      usage: { prompt_tokens: 11, completion_tokens: 4, total_tokens: 15 },
      systemFingerprint: "fp_aimock",
    });
    mock.onMessage("[stream]", {
      content: "A streamed answer, token by token, from the emulator.",
      usage: { prompt_tokens: 9, completion_tokens: 12, total_tokens: 21 },
    });
    mock.onMessage("[shared]", { content: "One answer for every shape of client." });
    mock.onMessage("[tools]", {
      toolCalls: [
        { id: "call_tools_1", name: "get_weather", arguments: { city: "Paris", unit: "c" } },
        { id: "call_tools_2", name: "get_time", arguments: { tz: "Europe/Paris" } },
      ],
    });
    mock.onMessage("[tool-stream]", {
      toolCalls: [{ id: "call_ts_1", name: "get_weather", arguments: { city: "Lisbon", unit: "c" } }],
    });
    mock.onMessage("[helper]", {
      toolCalls: [{ id: "call_helper_1", name: "get_weather", arguments: { city: "Oslo" } }],
    });
    mock.onMessage("[helper-text]", { content: "Helpers assemble this text." });
    mock.onMessage("[image]", { content: "A single pixel." });
    mock.on({ userMessage: "[json]", responseFormat: "json_schema" }, { content: '{"city":"Paris","temp_c":18}' });
    mock.onMessage("[slow]", { content: "Worth the wait." }, { latency: 50 });
    mock.onMessage(
      "[cut]",
      { content: "This answer is long enough to be cut into many pieces by the emulator." },
      { truncateAfterChunks: 6, chunkSize: 5, latency: 10 },
    );
    ditto = await startDitto({ openai: `${mock.url}/v1` });
    c = client(ditto.url);
  });

  after(async () => {
    await ditto?.stop();
    await mock?.stop();
  });

  it("non-stream completion: MISS, then HIT with the same body", async () => {
    const params = { model: MODEL, messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "[plain] say hello" }] };
    const first = await c.chat.completions.create(params).withResponse();
    wantCache(first.response.headers, "MISS");
    assert.match(first.response.headers.get("cache-status"), /stored/);
    assert.equal(first.data.choices[0].message.content, "Hello from aimock.");
    assert.equal(first.data.choices[0].finish_reason, "stop");
    assert.equal(first.data.object, "chat.completion");
    assert.deepEqual(
      { p: first.data.usage.prompt_tokens, c: first.data.usage.completion_tokens, t: first.data.usage.total_tokens },
      { p: 11, c: 4, t: 15 },
    );

    const second = await c.chat.completions.create(params).withResponse();
    wantCache(second.response.headers, "HIT");
    assert.equal(second.response.headers.get("x-ditto-cache-key"), first.response.headers.get("x-ditto-cache-key"));
    assert.deepEqual(second.data, first.data, "a hit returns the stored completion");
    assert.equal((await upstreamCalls(mock, "[plain]")).length, 1, "aimock journal: one upstream call");
    await conforms(c);
  });

  it("stream with include_usage: MISS relays chunks, the repeat is a HIT replay", async () => {
    const params = {
      model: MODEL,
      messages: [{ role: "user", content: "[stream] tell me something" }],
      stream: true,
      stream_options: { include_usage: true },
    };
    const runs = [];
    for (const want of ["MISS", "HIT"]) {
      const { data: stream, response } = await c.chat.completions.create(params).withResponse();
      wantCache(response.headers, want);
      assert.match(response.headers.get("content-type"), /^text\/event-stream/);
      let text = "";
      const chunks = [];
      for await (const chunk of stream) {
        chunks.push(chunk);
        text += chunk.choices[0]?.delta?.content ?? "";
      }
      runs.push({ text, chunks });
    }
    for (const { text, chunks } of runs) {
      assert.equal(text, "A streamed answer, token by token, from the emulator.");
      const last = chunks.at(-1);
      assert.deepEqual(last.choices, [], "the usage chunk has no choices");
      assert.equal(last.usage.total_tokens, 21);
      assert.equal(chunks.filter((ch) => ch.usage).length, 1, "exactly one chunk carries usage");
      assert.equal(chunks.at(-2).choices[0].finish_reason, "stop");
      assert.ok(chunks.every((ch) => ch.object === "chat.completion.chunk" && ch.id === chunks[0].id));
    }
    assert.equal((await upstreamCalls(mock, "[stream]")).length, 1);
    await conforms(c);
  });

  it("stream without include_usage has no usage chunk", async () => {
    const stream = await c.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "[stream] tell me something" }],
      stream: true,
    });
    for await (const chunk of stream) {
      assert.ok(chunk.choices.length > 0, `unexpected chunk without choices: ${JSON.stringify(chunk)}`);
      assert.ok(!chunk.usage, `client did not ask for usage: ${JSON.stringify(chunk)}`);
    }
    await conforms(c);
  });

  it("a streamed answer serves a non-stream client, and the other way round", async () => {
    const base = { model: MODEL, messages: [{ role: "user", content: "[shared] answer once" }] };
    const stream = await c.chat.completions.create({ ...base, stream: true });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
    const { data, response } = await c.chat.completions.create(base).withResponse();
    wantCache(response.headers, "HIT");
    assert.equal(data.choices[0].message.content, text);
    assert.equal(text, "One answer for every shape of client.");

    const other = { model: MODEL, messages: [{ role: "user", content: "[shared] answer once, again" }] };
    const nonStream = await c.chat.completions.create(other);
    const { data: s2, response: r2 } = await c.chat.completions.create({ ...other, stream: true }).withResponse();
    wantCache(r2.headers, "HIT");
    let replayed = "";
    for await (const chunk of s2) replayed += chunk.choices[0]?.delta?.content ?? "";
    assert.equal(replayed, nonStream.choices[0].message.content);
    assert.equal((await upstreamCalls(mock, "[shared]")).length, 2);
    await conforms(c);
  });

  it("tool calls (non-stream, parallel): parsed by the SDK, then a HIT", async () => {
    const params = { model: MODEL, messages: [{ role: "user", content: "[tools] weather and time in Paris?" }], tools: [weatherTool, timeTool] };
    for (const want of ["MISS", "HIT"]) {
      const { data, response } = await c.chat.completions.create(params).withResponse();
      wantCache(response.headers, want);
      const msg = data.choices[0].message;
      assert.equal(data.choices[0].finish_reason, "tool_calls");
      assert.equal(msg.content, null);
      assert.deepEqual(
        msg.tool_calls.map((t) => [t.id, t.type, t.function.name, JSON.parse(t.function.arguments)]),
        [
          ["call_tools_1", "function", "get_weather", { city: "Paris", unit: "c" }],
          ["call_tools_2", "function", "get_time", { tz: "Europe/Paris" }],
        ],
      );
    }
    const [call] = await upstreamCalls(mock, "[tools]");
    assert.deepEqual(
      call.body.tools.map((t) => t.function.name),
      ["get_weather", "get_time"],
      "tools reached the upstream",
    );
    assert.deepEqual(call.body.tools[0].function.parameters, weatherTool.function.parameters);
    assert.equal((await upstreamCalls(mock, "[tools]")).length, 1);
    await conforms(c);
  });

  it("streamed tool-call deltas assemble to the same call, MISS then HIT", async () => {
    const params = { model: MODEL, messages: [{ role: "user", content: "[tool-stream] weather in Lisbon?" }], tools: [weatherTool], stream: true };
    for (const want of ["MISS", "HIT"]) {
      const { data: stream, response } = await c.chat.completions.create(params).withResponse();
      wantCache(response.headers, want);
      const calls = [];
      let finish = null;
      for await (const chunk of stream) {
        const choice = chunk.choices[0];
        if (!choice) continue;
        for (const d of choice.delta.tool_calls ?? []) {
          calls[d.index] ??= { id: "", name: "", arguments: "" };
          if (d.id) calls[d.index].id = d.id;
          if (d.function?.name) calls[d.index].name += d.function.name;
          if (d.function?.arguments) calls[d.index].arguments += d.function.arguments;
        }
        finish = choice.finish_reason ?? finish;
      }
      assert.equal(finish, "tool_calls");
      assert.equal(calls.length, 1);
      assert.equal(calls[0].id, "call_ts_1");
      assert.equal(calls[0].name, "get_weather");
      assert.deepEqual(JSON.parse(calls[0].arguments), { city: "Lisbon", unit: "c" });
    }
    // The assembled entry serves a non-stream client too.
    const { data, response } = await c.chat.completions.create({ ...params, stream: false }).withResponse();
    wantCache(response.headers, "HIT");
    assert.equal(data.choices[0].message.tool_calls[0].function.name, "get_weather");
    assert.equal((await upstreamCalls(mock, "[tool-stream]")).length, 1);
    await conforms(c);
  });

  it("chat.completions.stream() helpers: events and finalChatCompletion()", async () => {
    for (const want of ["MISS", "HIT"]) {
      const runner = c.chat.completions.stream({
        model: MODEL,
        messages: [{ role: "user", content: "[helper] weather in Oslo?" }],
        tools: [weatherTool],
      });
      const done = [];
      runner.on("tool_calls.function.arguments.done", (e) => done.push(e));
      const final = await runner.finalChatCompletion();
      const msg = final.choices[0].message;
      assert.equal(final.choices[0].finish_reason, "tool_calls");
      assert.equal(msg.tool_calls.length, 1);
      assert.equal(msg.tool_calls[0].id, "call_helper_1");
      assert.deepEqual(JSON.parse(msg.tool_calls[0].function.arguments), { city: "Oslo" });
      assert.equal(done.length, 1, "one tool_calls.function.arguments.done event");
      assert.equal(done[0].name, "get_weather");
      const xs = await conforms(c);
      wantCache(xs.at(-1).headers, want);
    }
    const texts = [];
    const runner = c.chat.completions.stream({ model: MODEL, messages: [{ role: "user", content: "[helper-text] go" }] });
    runner.on("content", (delta) => texts.push(delta));
    const final = await runner.finalChatCompletion();
    assert.equal(final.choices[0].message.content, "Helpers assemble this text.");
    assert.equal(texts.join(""), "Helpers assemble this text.");
    assert.equal(await runner.finalContent(), "Helpers assemble this text.");
    assert.equal((await upstreamCalls(mock, "[helper]")).length, 1);
    await conforms(c);
  });

  it("multi-turn with a tool result: both turns cached, history reaches upstream intact", async () => {
    const messages = [
      { role: "system", content: "You are a weather bot." },
      { role: "user", content: "[mt] weather in Paris?" },
    ];
    const turn1 = await c.chat.completions.create({ model: MODEL, messages, tools: [weatherTool] });
    const call = turn1.choices[0].message.tool_calls[0];
    assert.equal(call.id, "call_mt_weather");
    const history = [
      ...messages,
      turn1.choices[0].message,
      { role: "tool", tool_call_id: call.id, content: JSON.stringify({ temp: "18C", sky: "cloudy" }) },
    ];
    for (const want of ["MISS", "HIT"]) {
      const { data, response } = await c.chat.completions.create({ model: MODEL, messages: history, tools: [weatherTool] }).withResponse();
      wantCache(response.headers, want);
      assert.equal(data.choices[0].message.content, "It is 18°C and cloudy in Paris.");
      assert.equal(data.usage.total_tokens, 49);
    }
    const calls = await upstreamCalls(mock, "[mt]");
    assert.equal(calls.length, 2, "one upstream call per distinct turn");
    const sent = calls[1].body.messages;
    assert.deepEqual(
      sent.map((m) => m.role),
      ["system", "user", "assistant", "tool"],
    );
    assert.equal(sent[2].tool_calls[0].id, "call_mt_weather");
    assert.equal(sent[2].tool_calls[0].function.name, "get_weather");
    assert.equal(sent[3].tool_call_id, "call_mt_weather");
    assert.match(JSON.stringify(sent[3].content), /18C/);
    await conforms(c);
  });

  it("image content parts: passed through, cached, and a different image is a MISS", async () => {
    const ask = (url) => ({
      model: MODEL,
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "[image] what is in this picture?" },
            { type: "image_url", image_url: { url, detail: "low" } },
          ],
        },
      ],
    });
    const first = await c.chat.completions.create(ask(PNG_1x1)).withResponse();
    wantCache(first.response.headers, "MISS");
    assert.equal(first.data.choices[0].message.content, "A single pixel.");
    const again = await c.chat.completions.create(ask(PNG_1x1)).withResponse();
    wantCache(again.response.headers, "HIT");
    const other = await c.chat.completions.create(ask(PNG_1x1_RED)).withResponse();
    wantCache(other.response.headers, "MISS");

    const calls = await upstreamCalls(mock, "[image]");
    assert.equal(calls.length, 2);
    const parts = calls[0].body.messages[0].content;
    assert.ok(Array.isArray(parts), "content parts stay an array upstream");
    const image = parts.find((p) => p.type === "image_url");
    assert.equal(image?.image_url?.url, PNG_1x1);
    assert.equal(image?.image_url?.detail, "low");
    await conforms(c);
  });

  it("structured outputs via chat.completions.parse(): schema passed through, parsed, cached", async () => {
    const format = (extra = {}) => ({
      type: "json_schema",
      json_schema: {
        name: "weather",
        strict: true,
        schema: {
          type: "object",
          properties: { city: { type: "string" }, temp_c: { type: "number" }, ...extra },
          required: ["city", "temp_c"],
          additionalProperties: false,
        },
      },
    });
    const params = (user, response_format = format()) => ({
      model: MODEL,
      messages: [{ role: "user", content: "[json] weather in Paris" }],
      response_format,
      seed: 7,
      max_completion_tokens: 100,
      user, // pure metadata: does not split the key
    });
    for (const [user, want] of [["alice", "MISS"], ["bob", "HIT"]]) {
      const { data, response } = await c.chat.completions.parse(params(user)).withResponse();
      wantCache(response.headers, want);
      assert.deepEqual(data.choices[0].message.parsed, { city: "Paris", temp_c: 18 });
    }
    const { response } = await c.chat.completions.parse(params("alice", format({ sky: { type: "string" } }))).withResponse();
    wantCache(response.headers, "MISS");
    const [first] = await upstreamCalls(mock, "[json]");
    assert.deepEqual(first.body.response_format, format());
    assert.equal(first.body.seed, 7);
    assert.equal(first.body.max_completion_tokens, 100);
    await conforms(c);
  });

  it("concurrent identical requests share one upstream call (COALESCED)", async () => {
    const params = (stream) => ({ model: MODEL, stream, messages: [{ role: "user", content: "[slow] take your time" }] });
    const results = await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        const { data, response } = await c.chat.completions.create(params(i % 2 === 0)).withResponse();
        let text = data.choices?.[0]?.message?.content ?? "";
        if (i % 2 === 0) for await (const chunk of data) text += chunk.choices[0]?.delta?.content ?? "";
        return { status: response.headers.get("x-ditto-cache"), text };
      }),
    );
    for (const r of results) assert.equal(r.text, "Worth the wait.");
    const statuses = results.map((r) => r.status).sort();
    assert.equal(statuses.filter((s) => s === "MISS").length, 1, `statuses ${statuses}`);
    assert.ok(statuses.every((s) => ["MISS", "COALESCED", "HIT"].includes(s)), `statuses ${statuses}`);
    assert.equal((await upstreamCalls(mock, "[slow]")).length, 1);
    await conforms(c);
  });

  it("a stream cut mid-way: the SDK raises APIError, and nothing is cached", async () => {
    for (const want of ["MISS", "MISS"]) {
      let text = "";
      let status;
      const err = await (async () => {
        try {
          const { data, response } = await c.chat.completions
            .create({ model: MODEL, stream: true, messages: [{ role: "user", content: "[cut] go" }] })
            .withResponse();
          status = response.headers.get("x-ditto-cache");
          for await (const chunk of data) text += chunk.choices[0]?.delta?.content ?? "";
        } catch (e) {
          return e;
        }
      })();
      assert.ok(err instanceof OpenAI.APIError, `a cut stream must not look complete; got ${err} after ${JSON.stringify(text)}`);
      assert.equal(status, want);
      assert.ok(text.length > 0 && !text.includes("emulator."), `partial text ${JSON.stringify(text)}`);
    }
    await conforms(c);
  });

  it("models.list() and models.retrieve() in OpenAI's shapes", async () => {
    const ids = [];
    for await (const m of c.models.list()) {
      assert.equal(m.object, "model");
      assert.equal(typeof m.owned_by, "string");
      ids.push(m.id);
    }
    for (const want of [MODEL, "claude-sonnet-4-5", "gemini-2.5-flash"]) {
      assert.ok(ids.includes(want), `models.list() lacks ${want}: ${ids}`);
    }
    const one = await c.models.retrieve(MODEL);
    assert.equal(one.id, MODEL);
    assert.equal(one.object, "model");
    await conforms(c);
    assert.equal((await journal(mock, "/models")).length, 0, "listing models does not call upstream");
  });
});
