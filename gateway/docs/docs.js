// Renders the gateway's OpenAPI 3.1 document (/api/v1/openapi.json): operations grouped
// by tag with their parameters and responses, and every component schema. Plain DOM, no
// innerHTML, nothing fetched from elsewhere (the page runs under a strict CSP).

const METHODS = ["get", "post", "put", "patch", "delete"];

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// A small subset of Markdown: paragraphs, `code` and **bold**.
function inline(text) {
  const parts = [];
  const pattern = /(\*\*[^*]+\*\*|`[^`]+`)/g;
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    parts.push(text.slice(last, match.index));
    const token = match[0];
    parts.push(token.startsWith("`") ? el("code", {}, token.slice(1, -1)) : el("strong", {}, inline(token.slice(2, -2))));
    last = match.index + token.length;
  }
  parts.push(text.slice(last));
  return parts;
}

function markdown(text) {
  return (text || "").split(/\n\s*\n/).filter((p) => p.trim()).map((p) => el("p", {}, inline(p.trim())));
}

function resolve(doc, node) {
  let current = node;
  for (let depth = 0; current && current.$ref && depth < 10; depth += 1) {
    const path = current.$ref.replace(/^#\//, "").split("/").map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
    current = path.reduce((value, key) => (value ? value[key] : undefined), doc);
  }
  return current || {};
}

function refName(node) {
  return node && node.$ref ? node.$ref.split("/").pop() : null;
}

function typeLabel(doc, schema) {
  if (!schema) return "";
  const name = refName(schema);
  if (name) return el("a", { href: `#schema-${name}` }, name);
  if (schema.const !== undefined) return `"${schema.const}"`;
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(" | ");
  const types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
  if (types.includes("array")) {
    const items = typeLabel(doc, schema.items);
    return ["array of ", items];
  }
  const bounds = [];
  if (schema.minimum !== undefined) bounds.push(`≥ ${schema.minimum}`);
  if (schema.maximum !== undefined) bounds.push(`≤ ${schema.maximum}`);
  if (schema.maxLength !== undefined) bounds.push(`≤ ${schema.maxLength} chars`);
  if (schema.format) bounds.push(schema.format);
  return types.join(" | ") + (bounds.length ? ` (${bounds.join(", ")})` : "");
}

function schemaTree(doc, schema, depth = 0) {
  const resolved = schema && schema.$ref ? resolve(doc, schema) : schema;
  if (!resolved || !resolved.properties || depth > 3) return null;
  const required = new Set(resolved.required || []);
  const list = el("ul", { class: "schema" });
  for (const [name, property] of Object.entries(resolved.properties)) {
    const item = el("li", {},
      el("code", {}, name), required.has(name) ? "" : " (optional)", " ",
      el("span", { class: "type" }, typeLabel(doc, property)),
      property.description ? [" — ", inline(property.description)] : "");
    if (!refName(property) && property.properties) item.append(schemaTree(doc, property, depth + 1));
    list.append(item);
  }
  return list;
}

function parametersTable(doc, parameters) {
  if (!parameters || parameters.length === 0) return null;
  const body = el("tbody");
  for (const raw of parameters) {
    const p = resolve(doc, raw);
    const schema = p.schema || {};
    const defaults = schema.default !== undefined ? ` (default ${JSON.stringify(schema.default)})` : "";
    body.append(el("tr", {},
      el("td", {}, el("code", {}, p.name), p.required ? el("span", { class: "req" }, "required") : ""),
      el("td", {}, p.in),
      el("td", { class: "type" }, typeLabel(doc, schema), defaults),
      el("td", {}, inline(p.description || ""))));
  }
  return el("table", {},
    el("thead", {}, el("tr", {}, el("th", {}, "parameter"), el("th", {}, "in"), el("th", {}, "type"), el("th", {}, "meaning"))),
    body);
}

function responsesTable(doc, responses) {
  const body = el("tbody");
  for (const [status, raw] of Object.entries(responses || {})) {
    const response = resolve(doc, raw);
    const content = response.content || {};
    const media = Object.keys(content)[0];
    const schema = media ? content[media].schema : null;
    body.append(el("tr", {},
      el("td", {}, el("code", {}, status)),
      el("td", {}, inline(response.description || "")),
      el("td", { class: "type" }, media ? [media, " ", typeLabel(doc, schema)] : "")));
  }
  return el("table", {},
    el("thead", {}, el("tr", {}, el("th", {}, "status"), el("th", {}, "meaning"), el("th", {}, "body"))),
    body);
}

function operationId(method, path) {
  return `op-${method}-${path.replace(/[^a-zA-Z0-9]+/g, "-")}`;
}

function render(doc) {
  const content = document.getElementById("content");
  const toc = document.getElementById("toc");
  content.replaceChildren();
  toc.replaceChildren();
  content.append(el("section", { class: "intro" },
    el("h2", {}, `${doc.info.title} ${doc.info.version}`),
    doc.info.summary ? el("p", {}, doc.info.summary) : null,
    markdown(doc.info.description)));

  const byTag = new Map((doc.tags || []).map((t) => [t.name, { tag: t, ops: [] }]));
  for (const [path, item] of Object.entries(doc.paths || {})) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const tag = (op.tags && op.tags[0]) || "Other";
      if (!byTag.has(tag)) byTag.set(tag, { tag: { name: tag }, ops: [] });
      byTag.get(tag).ops.push({ path, method, op });
    }
  }
  for (const { tag, ops } of byTag.values()) {
    const anchor = `tag-${tag.name}`;
    toc.append(el("h2", {}, el("a", { href: `#${anchor}` }, tag.name)));
    const tocList = el("ul");
    toc.append(tocList);
    const section = el("section", {}, el("h2", { id: anchor }, tag.name), tag.description ? el("p", {}, tag.description) : null);
    for (const { path, method, op } of ops) {
      const id = operationId(method, path);
      tocList.append(el("li", {}, el("a", { href: `#${id}` }, `${method.toUpperCase()} ${path}`)));
      section.append(el("article", { class: "op", id },
        el("header", {},
          el("span", { class: `method ${method}` }, method),
          el("span", { class: "path mono" }, path),
          el("span", { class: "summary" }, op.summary || "")),
        el("div", { class: "body" },
          markdown(op.description),
          op.parameters && op.parameters.length ? el("h3", {}, "Parameters") : null,
          parametersTable(doc, op.parameters),
          el("h3", {}, "Responses"),
          responsesTable(doc, op.responses))));
    }
    content.append(section);
  }

  const schemas = (doc.components && doc.components.schemas) || {};
  toc.append(el("h2", {}, el("a", { href: "#schemas" }, "Schemas")));
  const schemaToc = el("ul");
  toc.append(schemaToc);
  const section = el("section", {}, el("h2", { id: "schemas" }, "Schemas"));
  for (const [name, schema] of Object.entries(schemas)) {
    schemaToc.append(el("li", {}, el("a", { href: `#schema-${name}` }, name)));
    section.append(el("article", { class: "op", id: `schema-${name}` },
      el("header", {}, el("span", { class: "path mono" }, name), el("span", { class: "summary" }, schema.description || "")),
      el("div", { class: "body" }, schemaTree(doc, schema) || el("p", { class: "type" }, typeLabel(doc, schema)))));
  }
  content.append(section);
  if (location.hash) document.getElementById(location.hash.slice(1))?.scrollIntoView();
}

fetch("/api/v1/openapi.json", { headers: { Accept: "application/json" } })
  .then((response) => {
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return response.json();
  })
  .then(render)
  .catch((error) => {
    document.getElementById("content").replaceChildren(el("p", { class: "error" }, `Cannot load the API document: ${error.message}`));
  });
