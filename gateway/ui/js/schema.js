// The job spec schemas (JSON Schema 2020-12, served self-contained by the gateway at
// /api/v1/schemas/jobs/{name}) read the way the forms need them: what a field is (title,
// description, default, limits, enum), which fields the current values rule out (a
// conditional that makes a property `false`, a dependentRequired whose trigger is absent),
// and a validator for the keywords the schemas use, reporting each violation with its
// JSON pointer and keyword like the jobs service does, so the UI's inline errors and the
// server's 422 land on the same fields.

import { get, segment } from "./api.js";

const cache = new Map();

/** The schema of a job type (`create_vm`, `managed_deployment`, …), fetched once per tab. */
export function jobSchema(name) {
  if (!cache.has(name)) {
    const loading = get(`/schemas/jobs/${segment(name)}`).catch((error) => {
      cache.delete(name);
      throw error;
    });
    cache.set(name, loading);
  }
  return cache.get(name);
}

/** `"/vm/name"` → `["vm", "name"]` (RFC 6901 unescaping). */
export function parsePointer(pointer) {
  if (!pointer) return [];
  return pointer
    .split("/")
    .slice(1)
    .map((part) => part.replace(/~1/g, "/").replace(/~0/g, "~"));
}

/** `["vm", "name"]` → `"/vm/name"`. */
export function joinPointer(parts) {
  return parts.map((part) => "/" + String(part).replace(/~/g, "~0").replace(/\//g, "~1")).join("");
}

/** The value at `pointer` in `value` (undefined when absent). */
export function at(value, pointer) {
  let current = value;
  for (const part of parsePointer(pointer)) {
    if (current === null || typeof current !== "object") return undefined;
    current = current[part];
  }
  return current;
}

function refTarget(root, ref) {
  if (!ref.startsWith("#")) return true; // The served schemas are self-contained.
  let node = root;
  for (const part of parsePointer(ref.slice(1))) {
    if (!node || typeof node !== "object") return true;
    node = node[part];
  }
  return node === undefined ? true : node;
}

/**
 * A schema with its `$ref` followed: the target's keywords, overridden by the referring
 * schema's own (titles and descriptions are specialised that way).
 */
export function resolve(root, schema) {
  if (!schema || typeof schema !== "object" || !schema.$ref) return schema;
  const target = resolve(root, refTarget(root, schema.$ref));
  if (typeof target !== "object") return target;
  const { $ref, ...own } = schema;
  return { ...target, ...own };
}

/** The schema of the value at `pointer` (through properties and items), resolved; null if none. */
export function schemaAt(root, pointer) {
  let node = resolve(root, root);
  for (const part of parsePointer(pointer)) {
    if (!node || typeof node !== "object") return null;
    if (/^\d+$/.test(part) && node.items) node = resolve(root, node.items);
    else if (node.properties && part in node.properties) node = resolve(root, node.properties[part]);
    else return null;
  }
  return node;
}

const TYPE_CHECKS = {
  string: (v) => typeof v === "string",
  integer: (v) => Number.isInteger(v),
  number: (v) => typeof v === "number" && Number.isFinite(v),
  boolean: (v) => typeof v === "boolean",
  object: (v) => v !== null && typeof v === "object" && !Array.isArray(v),
  array: (v) => Array.isArray(v),
  null: (v) => v === null,
};

function equal(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

const patterns = new Map();
function regex(source) {
  if (!patterns.has(source)) {
    let compiled;
    try {
      compiled = new RegExp(source, "u");
    } catch {
      compiled = null;
    }
    patterns.set(source, compiled);
  }
  return patterns.get(source);
}

function isObject(value) {
  return TYPE_CHECKS.object(value);
}

/** Whether `value` is valid against `schema` (no violations). */
export function valid(root, schema, value) {
  return check(root, schema, value, "", []).length === 0;
}

/**
 * Every violation of `value` against the schema document `root`: `{pointer, rule, message,
 * params}`. Pointers and rules follow the jobs service: a missing property is reported at
 * the property (`/vm/name`, `required`), an anyOf of required alternatives at the object
 * (`needs one of`), a property a conditional rules out at the property (`then`, `else`,
 * `dependentSchemas`).
 */
export function validate(root, value) {
  const found = check(root, root, value, "", []);
  const seen = new Set();
  return found.filter((violation) => {
    const key = `${violation.pointer}|${violation.rule}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function violation(pointer, rule, message, params = {}) {
  return { pointer, rule, message, params };
}

const CONDITIONALS = ["dependentSchemas", "then", "else", "not", "items"];

function refused(pointer, via) {
  const rule = [...via].reverse().find((keyword) => CONDITIONALS.includes(keyword)) || "false";
  return violation(pointer, rule, "is not allowed with the other values", {});
}

function check(root, raw, value, pointer, via) {
  if (raw === true || raw === undefined) return [];
  if (raw === false) return [refused(pointer, via)];
  const schema = resolve(root, raw);
  if (schema === true) return [];
  if (schema === false) return [refused(pointer, via)];
  const out = [];
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((type) => TYPE_CHECKS[type]?.(value))) {
      out.push(violation(pointer, "type", `must be ${types.map(typeWord).join(" or ")}`, { types }));
      return out;
    }
  }
  if (schema.enum && !schema.enum.some((option) => equal(option, value))) {
    out.push(violation(pointer, "enum", `must be one of ${schema.enum.join(", ")}`, { allowed: schema.enum }));
  }
  if ("const" in schema && !equal(schema.const, value)) {
    out.push(violation(pointer, "const", `must be ${schema.const}`, { value: schema.const }));
  }
  if (typeof value === "number") {
    if (schema.minimum !== undefined && value < schema.minimum) out.push(violation(pointer, "minimum", `must be at least ${schema.minimum}`, { limit: schema.minimum }));
    if (schema.maximum !== undefined && value > schema.maximum) out.push(violation(pointer, "maximum", `must be at most ${schema.maximum}`, { limit: schema.maximum }));
    if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum) out.push(violation(pointer, "exclusiveMinimum", `must be more than ${schema.exclusiveMinimum}`, { limit: schema.exclusiveMinimum }));
    if (schema.exclusiveMaximum !== undefined && value >= schema.exclusiveMaximum) out.push(violation(pointer, "exclusiveMaximum", `must be less than ${schema.exclusiveMaximum}`, { limit: schema.exclusiveMaximum }));
    if (schema.multipleOf && value % schema.multipleOf !== 0) out.push(violation(pointer, "multipleOf", `must be a multiple of ${schema.multipleOf}`, { step: schema.multipleOf }));
  }
  if (typeof value === "string") {
    const length = [...value].length;
    if (schema.minLength !== undefined && length < schema.minLength) {
      out.push(violation(pointer, "minLength", schema.minLength === 1 ? "must not be empty" : `must have at least ${schema.minLength} characters`, { limit: schema.minLength }));
    }
    if (schema.maxLength !== undefined && length > schema.maxLength) out.push(violation(pointer, "maxLength", `must have at most ${schema.maxLength} characters`, { limit: schema.maxLength }));
    if (schema.pattern && length > 0) {
      const compiled = regex(schema.pattern);
      if (compiled && !compiled.test(value)) out.push(violation(pointer, "pattern", "has a character or form that is not allowed", { pattern: schema.pattern }));
    }
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) out.push(violation(pointer, "minItems", `needs at least ${schema.minItems}`, { limit: schema.minItems }));
    if (schema.maxItems !== undefined && value.length > schema.maxItems) out.push(violation(pointer, "maxItems", `allows at most ${schema.maxItems}`, { limit: schema.maxItems }));
    if (schema.items !== undefined) value.forEach((item, index) => out.push(...check(root, schema.items, item, `${pointer}/${index}`, [...via, "items"])));
  }
  if (isObject(value)) {
    for (const name of schema.required || []) {
      if (!(name in value)) out.push(violation(joinPointer([...parsePointer(pointer), name]), "required", "is required", {}));
    }
    for (const [name, needs] of Object.entries(schema.dependentRequired || {})) {
      if (!(name in value)) continue;
      for (const need of needs) {
        if (!(need in value)) out.push(violation(joinPointer([...parsePointer(pointer), need]), "dependentRequired", `is required with ${name}`, { with: name }));
      }
    }
    const properties = schema.properties || {};
    for (const [name, child] of Object.entries(value)) {
      const childPointer = joinPointer([...parsePointer(pointer), name]);
      if (name in properties) out.push(...check(root, properties[name], child, childPointer, [...via, "properties"]));
      else if (schema.additionalProperties === false) out.push(violation(childPointer, "additionalProperties", "is not a field of this spec", {}));
    }
    for (const [name, dependent] of Object.entries(schema.dependentSchemas || {})) {
      if (name in value) out.push(...check(root, dependent, value, pointer, [...via, "dependentSchemas"]));
    }
  }
  for (const part of schema.allOf || []) out.push(...check(root, part, value, pointer, via));
  if (schema.anyOf) {
    const branches = schema.anyOf.map((part) => check(root, part, value, pointer, via));
    if (!branches.some((found) => found.length === 0)) {
      const alternatives = requiredAlternatives(root, schema.anyOf);
      // A value of the right type failing one branch (a VLAN of 5000 against "1-4094 or
      // null") is told what that branch wants.
      const typed = branches.filter((found) => !found.some((v) => v.rule === "type" && v.pointer === pointer));
      if (alternatives) out.push(violation(pointer, "anyOf", `needs one of: ${alternatives.join(", ")}`, { alternatives }));
      else if (typed.length === 1) out.push(...typed[0]);
      else out.push(violation(pointer, "anyOf", "does not match any of the allowed forms", {}));
    }
  }
  if (schema.oneOf && schema.oneOf.filter((part) => check(root, part, value, pointer, via).length === 0).length !== 1) {
    out.push(violation(pointer, "oneOf", "must match exactly one of the allowed forms", {}));
  }
  if (schema.not !== undefined && check(root, schema.not, value, pointer, via).length === 0) {
    const forbidden = resolve(root, schema.not);
    out.push(violation(pointer, "not", forbidden && "const" in forbidden ? `may not be ${forbidden.const} here` : "is not allowed here", forbidden && "const" in forbidden ? { value: forbidden.const } : {}));
  }
  if (schema.if !== undefined) {
    const holds = check(root, schema.if, value, pointer, via).length === 0;
    if (holds && schema.then !== undefined) out.push(...check(root, schema.then, value, pointer, [...via, "then"]));
    if (!holds && schema.else !== undefined) out.push(...check(root, schema.else, value, pointer, [...via, "else"]));
  }
  return out;
}

function typeWord(type) {
  return { integer: "a whole number", number: "a number", string: "text", boolean: "true or false", object: "an object", array: "a list", null: "empty" }[type] || type;
}

function requiredAlternatives(root, parts) {
  const names = [];
  for (const part of parts) {
    const schema = resolve(root, part);
    if (!schema || typeof schema !== "object") return null;
    const keys = Object.keys(schema);
    if (keys.length !== 1 || keys[0] !== "required" || schema.required.length !== 1) return null;
    names.push(schema.required[0]);
  }
  return names.length ? names : null;
}

/**
 * The subschemas that apply to the object `value` under `schema` given its current values:
 * the schema itself, its allOf parts, the branch of each if/then/else taken, the
 * dependentSchemas of present properties (recursively).
 */
export function applicable(root, schema, value) {
  const found = [];
  const visit = (raw) => {
    const node = resolve(root, raw);
    if (!node || typeof node !== "object") return;
    found.push(node);
    for (const part of node.allOf || []) visit(part);
    if (node.if !== undefined) {
      const holds = isObject(value) && check(root, node.if, value, "", []).length === 0;
      if (holds && node.then !== undefined) visit(node.then);
      if (!holds && node.else !== undefined) visit(node.else);
    }
    for (const [name, dependent] of Object.entries(node.dependentSchemas || {})) {
      if (isObject(value) && name in value) visit(dependent);
    }
  };
  visit(schema);
  return found;
}

/**
 * How the value at `pointer` stands with the current values of `spec` (the whole spec):
 * `{allowed, schemas}`. Conditionals anywhere above it apply (a root-level else can reach
 * down to `/disks/0/controller_type`). `allowed` is false when an applicable schema makes
 * it `false`, or when a dependentRequired of its object needs a property that is absent;
 * `schemas` are its applicable subschemas (base first), for limits and enum options.
 */
export function stateAt(root, spec, pointer) {
  const parts = parsePointer(pointer);
  let level = applicable(root, root, spec);
  let allowed = true;
  let current = spec;
  for (let i = 0; i < parts.length; i += 1) {
    const part = parts[i];
    const parent = current;
    current = parent !== null && typeof parent === "object" ? parent[part] : undefined;
    const next = [];
    for (const node of level) {
      let child;
      if (/^\d+$/.test(part) && node.items !== undefined) child = node.items;
      else if (node.properties && part in node.properties) child = node.properties[part];
      else child = undefined;
      if (i === parts.length - 1) {
        for (const [trigger, needs] of Object.entries(node.dependentRequired || {})) {
          if (trigger === part && needs.some((need) => !isObject(parent) || !(need in parent))) allowed = false;
        }
      }
      if (child === undefined) continue;
      if (child === false) {
        allowed = false;
        continue;
      }
      next.push(...applicable(root, child, current));
    }
    level = next;
  }
  return { allowed, schemas: level };
}

/** The tightest numeric limits over `schemas`: {minimum, maximum, multipleOf}. */
export function limits(schemas) {
  const out = { minimum: undefined, maximum: undefined, multipleOf: undefined };
  for (const schema of schemas) {
    if (schema.minimum !== undefined) out.minimum = out.minimum === undefined ? schema.minimum : Math.max(out.minimum, schema.minimum);
    if (schema.maximum !== undefined) out.maximum = out.maximum === undefined ? schema.maximum : Math.min(out.maximum, schema.maximum);
    if (schema.multipleOf !== undefined) out.multipleOf = Math.max(out.multipleOf || 0, schema.multipleOf);
  }
  return out;
}

/** The enum values of the first schema that has one, minus those another schema rules out. */
export function options(root, schemas) {
  const base = schemas.find((schema) => Array.isArray(schema.enum));
  if (!base) return null;
  return base.enum.filter((value) => schemas.every((schema) => check(root, schema, value, "", []).length === 0));
}
