// The openai SDK against ditto routing to Anthropic (claude-*) and Gemini
// (gemini-*), with aimock speaking those providers' wire formats. A tap
// between ditto and aimock records the raw bytes ditto sent (aimock's
// journal shows its own parsed view, which drops image parts), so the
// translation to each wire format is checked too.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { startUpstream, startTap, startDitto, client, conforms, journal, wantCache, PNG_1x1, PNG_1x1_RED } from "./harness.mjs";

const PNG_DATA = PNG_1x1.slice(PNG_1x1.indexOf(",") + 1);

const weatherTool = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Get the current weather in a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
};

const families = [
  {
    name: "Anthropic",
    model: "claude-sonnet-4-5",
    upstreamPath: "/v1/messages",
    streamPath: "/v1/messages",
    // The text of the last user turn, and checks on the translated request.
    wire: {
      system: (b) => (typeof b.system === "string" ? b.system : b.system?.map((s) => s.text).join("")),
      userText: (b) => {
        const c = b.messages.at(-1).content;
        return typeof c === "string" ? c : c.filter((p) => p.type === "text").map((p) => p.text).join("");
      },
      image: (b) => b.messages.at(-1).content.find((p) => p.type === "image")?.source,
      wantImage: { type: "base64", media_type: "image/png", data: PNG_DATA },
      toolNames: (b) => b.tools.map((t) => t.name),
      toolResult: (b) => {
        const [assistant, user] = b.messages.slice(-2);
        const use = assistant.content.find((p) => p.type === "tool_use");
        const result = user.content.find((p) => p.type === "tool_result");
        return { callId: use.id, name: use.name, input: use.input, resultFor: result.tool_use_id, result: JSON.stringify(result.content) };
      },
    },
  },
  {
    name: "Gemini",
    model: "gemini-2.5-flash",
    upstreamPath: ":generateContent",
    streamPath: ":streamGenerateContent",
    wire: {
      system: (b) => b.systemInstruction?.parts?.map((p) => p.text).join(""),
      userText: (b) =>
        b.contents
          .at(-1)
          .parts.filter((p) => p.text !== undefined)
          .map((p) => p.text)
          .join(""),
      image: (b) => b.contents.at(-1).parts.find((p) => p.inlineData)?.inlineData,
      wantImage: { mimeType: "image/png", data: PNG_DATA },
      toolNames: (b) => b.tools.flatMap((t) => t.functionDeclarations.map((f) => f.name)),
      toolResult: (b) => {
        const call = b.contents.flatMap((c) => c.parts).find((p) => p.functionCall)?.functionCall;
        const resp = b.contents.flatMap((c) => c.parts).find((p) => p.functionResponse)?.functionResponse;
        return { callId: null, name: call.name, input: call.args, resultFor: resp.name, result: JSON.stringify(resp.response) };
      },
    },
  },
];

for (const f of families) {
  describe(`openai SDK → ditto → aimock (${f.name} wire, ${f.model})`, { timeout: 120_000 }, () => {
    let mock, tap, ditto, c;
    const ask = (text, extra = {}) => ({ model: f.model, messages: [{ role: "user", content: text }], ...extra });
    // upstream returns aimock's journal entries for this family with marker.
    const upstream = async (marker) =>
      (await journal(mock)).filter((e) => e.path.includes(f.upstreamPath) || e.path.includes(f.streamPath)).filter((e) => JSON.stringify(e.body).includes(marker));

    before(async () => {
      mock = await startUpstream();
      mock.on({ userMessage: "[mt]", hasToolResult: true }, { content: "It is 18°C in Rome.", usage: { prompt_tokens: 30, completion_tokens: 8, total_tokens: 38 } });
      mock.on({ userMessage: "[mt]", hasToolResult: false }, { toolCalls: [{ id: "toolu_mt_1", name: "get_weather", arguments: { city: "Rome" } }] });
      mock.onMessage("[plain]", { content: `Hello from ${f.name}.`, usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 } });
      mock.onMessage("[stream]", { content: `Streaming from ${f.name}, in several pieces.`, usage: { prompt_tokens: 8, completion_tokens: 9, total_tokens: 17 } });
      mock.onMessage("[tools]", { toolCalls: [{ id: "toolu_t_1", name: "get_weather", arguments: { city: "Madrid" } }] });
      mock.onMessage("[image]", { content: "One pixel." });
      mock.onMessage("[cut]", { content: "A long answer that the emulator cuts off in the middle of the stream." }, { truncateAfterChunks: 6, chunkSize: 5, latency: 10 });
      mock.on({ userMessage: "[e400]" }, { error: { message: "messages: field required", type: "invalid_request_error" }, status: 400 });
      mock.on({ userMessage: "[e401]" }, { error: { message: "invalid x-api-key", type: "authentication_error" }, status: 401 });
      mock.on({ userMessage: "[e429]" }, { error: { message: "Number of request tokens has exceeded your rate limit.", type: "rate_limit_error" }, status: 429 });
      mock.on({ userMessage: "[e500]" }, { error: { message: "Internal server error", type: "api_error" }, status: 500 });
      tap = await startTap(mock.url);
      ditto = await startDitto({ anthropic: tap.url, gemini: tap.url, openai: `${tap.url}/v1`, config: "upstream:\n  retries: 0\n" });
      c = client(ditto.url);
    });

    after(async () => {
      await ditto?.stop();
      await tap?.stop();
      await mock?.stop();
    });

    it("non-stream completion: translated, answered, then a HIT", async () => {
      const params = { model: f.model, messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "[plain] hello" }] };
      for (const want of ["MISS", "HIT"]) {
        const { data, response } = await c.chat.completions.create(params).withResponse();
        wantCache(response.headers, want);
        assert.equal(data.choices[0].message.content, `Hello from ${f.name}.`);
        assert.equal(data.choices[0].message.role, "assistant");
        assert.equal(data.choices[0].finish_reason, "stop");
        assert.equal(data.model, f.model);
        assert.deepEqual([data.usage.prompt_tokens, data.usage.completion_tokens, data.usage.total_tokens], [7, 3, 10]);
      }
      const calls = await upstream("[plain]");
      assert.equal(calls.length, 1, "aimock journal: one upstream call");
      assert.ok(calls[0].path.includes(f.upstreamPath), calls[0].path);
      const [sent] = tap.find("[plain]");
      assert.equal(f.wire.system(sent.json), "Be brief.");
      assert.equal(f.wire.userText(sent.json), "[plain] hello");
      await conforms(c);
    });

    it("stream with include_usage: MISS, then HIT replay", async () => {
      const params = ask("[stream] go", { stream: true, stream_options: { include_usage: true } });
      for (const want of ["MISS", "HIT"]) {
        const { data: stream, response } = await c.chat.completions.create(params).withResponse();
        wantCache(response.headers, want);
        let text = "";
        const chunks = [];
        for await (const chunk of stream) {
          chunks.push(chunk);
          text += chunk.choices[0]?.delta?.content ?? "";
        }
        assert.equal(text, `Streaming from ${f.name}, in several pieces.`);
        assert.deepEqual(chunks.at(-1).choices, []);
        assert.equal(chunks.at(-1).usage.total_tokens, 17);
        assert.equal(chunks.filter((ch) => ch.choices[0]?.finish_reason).at(-1).choices[0].finish_reason, "stop");
      }
      const calls = await upstream("[stream]");
      assert.equal(calls.length, 1);
      assert.ok(calls[0].path.includes(f.streamPath), calls[0].path);
      await conforms(c);
    });

    it("tool calls: non-stream, streamed via the stream() helper, one upstream call", async () => {
      const params = ask("[tools] weather in Madrid?", { tools: [weatherTool] });
      const { data, response } = await c.chat.completions.create(params).withResponse();
      wantCache(response.headers, "MISS");
      const [call] = data.choices[0].message.tool_calls;
      assert.equal(data.choices[0].finish_reason, "tool_calls");
      assert.equal(call.type, "function");
      assert.equal(call.function.name, "get_weather");
      assert.deepEqual(JSON.parse(call.function.arguments), { city: "Madrid" });
      assert.ok(call.id, "tool call has an id");

      const runner = c.chat.completions.stream(params);
      const final = await runner.finalChatCompletion();
      const [streamed] = final.choices[0].message.tool_calls;
      assert.equal(streamed.function.name, "get_weather");
      assert.deepEqual(JSON.parse(streamed.function.arguments), { city: "Madrid" });
      assert.equal(streamed.id, call.id, "the replayed call keeps its id");
      const xs = await conforms(c);
      wantCache(xs.at(-1).headers, "HIT");

      assert.equal((await upstream("[tools]")).length, 1);
      const [sent] = tap.find("[tools]");
      assert.deepEqual(f.wire.toolNames(sent.json), ["get_weather"]);
    });

    it("multi-turn with a tool result is translated and cached", async () => {
      const messages = [{ role: "user", content: "[mt] weather in Rome?" }];
      const turn1 = await c.chat.completions.create({ model: f.model, messages, tools: [weatherTool] });
      const assistant = turn1.choices[0].message;
      assert.equal(assistant.tool_calls[0].function.name, "get_weather");
      const history = [...messages, assistant, { role: "tool", tool_call_id: assistant.tool_calls[0].id, content: '{"temp":"18C"}' }];
      for (const want of ["MISS", "HIT"]) {
        const { data, response } = await c.chat.completions.create({ model: f.model, messages: history, tools: [weatherTool] }).withResponse();
        wantCache(response.headers, want);
        assert.equal(data.choices[0].message.content, "It is 18°C in Rome.");
      }
      assert.equal((await upstream("[mt]")).length, 2);
      const sent = tap.find("[mt]").at(-1).json;
      const tr = f.wire.toolResult(sent);
      assert.equal(tr.name, "get_weather");
      assert.deepEqual(tr.input, { city: "Rome" });
      if (tr.callId !== null) assert.equal(tr.resultFor, tr.callId, "the tool result names its call");
      else assert.equal(tr.resultFor, "get_weather", "the function response names its function");
      assert.match(tr.result, /18C/);
      await conforms(c);
    });

    it("image content parts become the provider's image blocks; a different image is a MISS", async () => {
      const params = (url) => ({
        model: f.model,
        messages: [{ role: "user", content: [{ type: "text", text: "[image] what is this?" }, { type: "image_url", image_url: { url } }] }],
      });
      for (const [url, want] of [[PNG_1x1, "MISS"], [PNG_1x1, "HIT"], [PNG_1x1_RED, "MISS"]]) {
        const { data, response } = await c.chat.completions.create(params(url)).withResponse();
        wantCache(response.headers, want);
        assert.equal(data.choices[0].message.content, "One pixel.");
      }
      const sent = tap.find("[image]");
      assert.equal(sent.length, 2);
      assert.deepEqual(f.wire.image(sent[0].json), f.wire.wantImage);
      assert.equal(f.wire.userText(sent[0].json), "[image] what is this?");
      await conforms(c);
    });

    it("a stream cut mid-way raises APIError in the SDK and is not cached", async () => {
      for (let i = 0; i < 2; i++) {
        let text = "";
        let status;
        let err;
        try {
          const { data, response } = await c.chat.completions.create(ask("[cut] go", { stream: true })).withResponse();
          status = response.headers.get("x-ditto-cache");
          for await (const chunk of data) text += chunk.choices[0]?.delta?.content ?? "";
        } catch (e) {
          err = e;
        }
        assert.ok(err instanceof OpenAI.APIError, `a cut stream must not look complete; got ${err} after ${JSON.stringify(text)}`);
        assert.equal(status, "MISS", `attempt ${i + 1}`);
      }
      assert.equal((await upstream("[cut]")).length, 2);
      await conforms(c);
    });

    const errors = [
      ["[e400]", 400, OpenAI.BadRequestError],
      ["[e401]", 401, OpenAI.AuthenticationError],
      ["[e429]", 429, OpenAI.RateLimitError],
      ["[e500]", 500, OpenAI.InternalServerError],
    ];
    for (const [marker, status, cls] of errors) {
      it(`upstream ${status} becomes ${cls.name} with OpenAI's error body`, async () => {
        let err;
        try {
          await c.chat.completions.create(ask(`${marker} x`));
        } catch (e) {
          err = e;
        }
        assert.ok(err instanceof cls, `got ${err?.constructor?.name}: ${err?.message}`);
        assert.equal(err.status, status);
        assert.ok(err.error?.message, "error message kept");
        if (status === 429) assert.match(err.headers.get("retry-after") ?? "", /^\d+$/, "Retry-After");
        await conforms(c);
      });
    }
  });
}
