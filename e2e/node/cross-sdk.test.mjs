// One logical request, three clients: the Node openai SDK, openai-go and
// go-openai spell it differently (key order, explicit defaults such as
// "stream":false) but must share one cache entry.
//
// testdata/sdk-requests holds the exact bytes each SDK sends for each case.
// The Go files are written and checked by e2e/gosdk (TestSDKRequestFixtures);
// the node-openai files are checked here. Regenerate after an SDK upgrade
// with DITTO_UPDATE_SDK_REQUESTS=1 (npm test here, go test ./e2e/gosdk there).
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { startUpstream, startDitto, client, conforms, rawPost, upstreamCalls, wantCache } from "./harness.mjs";

const DIR = fileURLToPath(new URL("../testdata/sdk-requests/", import.meta.url));
const UPDATE = process.env.DITTO_UPDATE_SDK_REQUESTS === "1";

// The cases, as the Node SDK spells them. e2e/gosdk/crosssdk_test.go
// builds the same requests with the Go SDKs.
const cases = {
  chat: {
    model: "gpt-4o-mini",
    messages: [
      { role: "system", content: "Be brief." },
      { role: "user", content: "[xsdk] hi" },
    ],
    temperature: 0.2,
    max_tokens: 64,
  },
  stream: {
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: "[xsdk] stream" }],
    stream: true,
    stream_options: { include_usage: true },
  },
  tools: {
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: "[xsdk] weather?" }],
    tools: [
      {
        type: "function",
        function: {
          name: "get_weather",
          description: "Get the weather",
          parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
        },
      },
    ],
  },
};

const fixture = (sdk, name) => readFileSync(`${DIR}${sdk}.${name}.json`, "utf8").trim();

describe("cross-SDK cache sharing (Node openai, openai-go, go-openai)", { timeout: 120_000 }, () => {
  let mock, ditto, c;

  before(async () => {
    mock = await startUpstream();
    mock.onMessage("[xsdk] hi", { content: "Hi." });
    mock.onMessage("[xsdk] stream", { content: "Streamed, shared.", usage: { prompt_tokens: 3, completion_tokens: 3, total_tokens: 6 } });
    mock.onMessage("[xsdk] weather?", { toolCalls: [{ id: "call_xsdk", name: "get_weather", arguments: { city: "Berlin" } }] });
    ditto = await startDitto({ openai: `${mock.url}/v1` });
    c = client(ditto.url);
  });

  after(async () => {
    await ditto?.stop();
    await mock?.stop();
  });

  // send makes the Node SDK call for a case in a namespace and returns the
  // exact body it sent and the response headers.
  async function send(name, ns) {
    const opts = { headers: { "X-Ditto-Namespace": ns } };
    const { data, response } = await c.chat.completions.create(cases[name], opts).withResponse();
    if (cases[name].stream) for await (const _ of data);
    const xs = await conforms(c);
    return { body: xs.at(-1).reqBody, headers: response.headers };
  }

  it("the Node SDK still sends the bytes recorded in testdata", async () => {
    for (const name of Object.keys(cases)) {
      const { body } = await send(name, "spelling");
      if (UPDATE) writeFileSync(`${DIR}node-openai.${name}.json`, body + "\n");
      assert.equal(body, fixture("node-openai", name), `node-openai.${name}.json is stale; regenerate with DITTO_UPDATE_SDK_REQUESTS=1 npm test`);
    }
  });

  it("the recorded spellings really differ", () => {
    for (const name of Object.keys(cases)) {
      const spellings = new Set(["node-openai", "openai-go", "go-openai"].map((sdk) => fixture(sdk, name)));
      assert.ok(spellings.size >= 2, `${name}: the three SDKs send identical bytes, the test proves nothing`);
      const parsed = ["node-openai", "openai-go", "go-openai"].map((sdk) => JSON.parse(fixture(sdk, name)));
      for (const p of parsed) assert.equal(p.model, "gpt-4o-mini");
    }
  });

  for (const name of Object.keys(cases)) {
    it(`${name}: entries made by the Go SDKs' bytes serve the Node SDK`, async () => {
      const ns = `go-first-${name}`;
      const first = await rawPost(ditto.url, fixture("go-openai", name), { "X-Ditto-Namespace": ns });
      assert.equal(first.status, 200, first.text);
      wantCache(first.headers, "MISS");
      const second = await rawPost(ditto.url, fixture("openai-go", name), { "X-Ditto-Namespace": ns });
      wantCache(second.headers, "HIT");
      const node = await send(name, ns);
      wantCache(node.headers, "HIT");
      assert.equal(node.headers.get("x-ditto-cache-key"), first.headers.get("x-ditto-cache-key"));
    });

    it(`${name}: an entry made by the Node SDK serves both Go SDKs' bytes`, async () => {
      const ns = `node-first-${name}`;
      const node = await send(name, ns);
      wantCache(node.headers, "MISS");
      for (const sdk of ["openai-go", "go-openai"]) {
        const x = await rawPost(ditto.url, fixture(sdk, name), { "X-Ditto-Namespace": ns });
        assert.equal(x.status, 200, x.text);
        wantCache(x.headers, "HIT");
        assert.equal(x.headers.get("x-ditto-cache-key"), node.headers.get("x-ditto-cache-key"), sdk);
      }
    });
  }

  it("namespaces kept the cases apart: one upstream call per case and namespace", async () => {
    // spelling + go-first + node-first
    for (const marker of ["[xsdk] hi", "[xsdk] stream", "[xsdk] weather?"]) {
      assert.equal((await upstreamCalls(mock, marker)).length, 3, marker);
    }
  });
});
