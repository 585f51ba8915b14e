// Validation of Ditto's responses against OpenAI's published OpenAPI spec
// (testdata/openai-openapi.yaml, see testdata/SOURCES.md).
//
// The spec is OpenAPI 3.1 (JSON Schema 2020-12) but still spells optional
// nulls the 3.0 way, `nullable: true`. toJSONSchema rewrites those into
// 2020-12 before ajv compiles them; nothing else about the schemas is
// changed. Any deliberate relaxation must be listed in e2e/README.md.
import { readFileSync, writeFileSync, mkdirSync, renameSync } from "node:fs";
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { load } from "js-yaml";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

const SPEC = fileURLToPath(new URL("../testdata/openai-openapi.yaml", import.meta.url));
const CACHE_DIR = fileURLToPath(new URL("../.bin/", import.meta.url));
const CONVERTER_VERSION = 1; // bump when toJSONSchema changes
const ROOT = "https://ditto.invalid/openai-openapi.json";

// toJSONSchema returns a copy of an OpenAPI 3.1 schema tree with every
// `nullable: true` turned into an explicit null:
//   {type: T, nullable: true}            → {type: [T, "null"]} (enum gains null)
//   {$ref: R, nullable: true, ...}       → {anyOf: [{$ref: R}, {type: "null"}], ...}
//   {anyOf/oneOf/allOf..., nullable}     → {anyOf: [<the rest>, {type: "null"}]}
// `nullable: false` is dropped.
export function toJSONSchema(node) {
  if (Array.isArray(node)) return node.map(toJSONSchema);
  if (node === null || typeof node !== "object") return node;
  const out = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === "nullable") continue;
    out[k] = NAME_MAPS.has(k) && v && typeof v === "object" ? schemaMap(v) : toJSONSchema(v);
  }
  if (node.nullable !== true) return out;
  if (typeof out.type === "string" || Array.isArray(out.type)) {
    const types = [].concat(out.type);
    if (!types.includes("null")) out.type = [...types, "null"];
    if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
    return out;
  }
  if (out.$ref !== undefined) {
    const { $ref, ...rest } = out;
    return { ...rest, anyOf: [{ $ref }, { type: "null" }] };
  }
  // No type: wrap whatever constraints there are.
  const { description, title, default: def, ...rest } = out;
  const wrapped = { anyOf: [rest, { type: "null" }] };
  if (description !== undefined) wrapped.description = description;
  if (title !== undefined) wrapped.title = title;
  if (def !== undefined) wrapped.default = def;
  return wrapped;
}

// Keywords whose value maps names (data, not keywords) to schemas: a
// property called "nullable" must survive.
const NAME_MAPS = new Set(["properties", "patternProperties", "$defs", "definitions", "dependentSchemas"]);

function schemaMap(m) {
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, toJSONSchema(v)]));
}

// schemas returns the converted components/schemas of the spec. Parsing
// 3 MB of YAML takes seconds, so the result is cached in e2e/.bin (git-
// ignored) under the spec's hash; every test process reuses it.
function schemas() {
  const text = readFileSync(SPEC);
  const sum = createHash("sha256").update(text).update(String(CONVERTER_VERSION)).digest("hex").slice(0, 16);
  const cached = `${CACHE_DIR}openai-schemas-${sum}.json`;
  try {
    return JSON.parse(readFileSync(cached, "utf8"));
  } catch {
    // not cached yet
  }
  const converted = schemaMap(load(text.toString("utf8")).components.schemas);
  try {
    mkdirSync(CACHE_DIR, { recursive: true });
    const tmp = `${cached}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(converted));
    renameSync(tmp, cached);
  } catch {
    // a read-only checkout still works, just slower
  }
  return converted;
}

let ajv;

function compiler() {
  if (ajv) return ajv;
  ajv = new Ajv2020({
    // The spec carries OpenAPI and vendor keywords (discriminator, example,
    // x-oaiMeta, x-stainless-const, …) that are annotations, not assertions.
    strict: false,
    allErrors: true,
    validateFormats: true,
  });
  addFormats(ajv);
  // OpenAPI's "unixtime": an integer count of seconds; the type already
  // says integer, so the format adds nothing to check.
  ajv.addFormat("unixtime", { type: "number", validate: (n) => Number.isInteger(n) });
  ajv.addSchema({ $id: ROOT, components: { schemas: schemas() } });
  return ajv;
}

const cache = new Map();

// validator returns the compiled validator of components/schemas/NAME.
export function validator(name) {
  let v = cache.get(name);
  if (!v) {
    v = compiler().getSchema(`${ROOT}#/components/schemas/${name}`);
    if (!v) throw new Error(`schema ${name} not found in the spec`);
    cache.set(name, v);
  }
  return v;
}

// check returns a list of human-readable violations of schema NAME by
// value (empty when it conforms).
export function check(name, value) {
  const v = validator(name);
  if (v(value)) return [];
  return (v.errors ?? []).map(
    (e) => `${name}${e.instancePath || "/"} ${e.message}${e.params ? " " + JSON.stringify(e.params) : ""} (schema ${e.schemaPath})`,
  );
}
