// A form for a job spec, driven by its JSON Schema: each field is bound to a JSON pointer
// of the spec and takes its label, description, default, limits and choices from the
// schema. On every change the form rebuilds the spec, hides the fields the current values
// rule out (a conditional that makes a property `false`, a dependentRequired whose trigger
// is absent), tightens limits and choices by the conditionals that apply (generation 1:
// at most 64 processors; IDE only on generation 1), and validates: errors appear as you
// type on the fields you have touched, and on every field once submit was tried. The
// server's refusals (422 and the pre-checks' 409/404) come back as violations with the
// same pointers and land on the same fields. Repeating rows (disks, network adapters) are
// lists whose rows re-index when one is removed.

import { h, icon } from "../dom.js";
import * as fmt from "../format.js";
import { validate, stateAt, schemaAt, limits as tightest, options as enumOptions, parsePointer, at } from "../schema.js";
import { createField } from "./fields.js";

function setAt(target, pointer, value) {
  const parts = parsePointer(pointer);
  let node = target;
  for (let i = 0; i < parts.length - 1; i += 1) {
    const part = parts[i];
    if (node[part] === undefined || node[part] === null || typeof node[part] !== "object") {
      node[part] = /^\d+$/.test(parts[i + 1]) ? [] : {};
    }
    node = node[part];
  }
  node[parts[parts.length - 1]] = value;
}

function sameValue(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

function sentence(text) {
  if (!text) return "";
  const trimmed = String(text).trim();
  const first = trimmed[0].toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}

function inferWidget(schema, name) {
  if (!schema) return "text";
  if (schema.type === "boolean") return "checkbox";
  if (Array.isArray(schema.enum)) return schema.enum.length <= 3 ? "radio" : "select";
  if (schema.type === "integer") return /_bytes$/.test(name) ? "bytes" : "integer";
  if (schema.type === "string" && schema.maxLength > 256) return "textarea";
  return "text";
}

export class SpecForm {
  /**
   * `schema`: the job spec schema; `fixed`: {pointer: value} always in the spec (the host,
   * the VM id); `checks(spec)`: extra rules → [{pointer, rule, message}]; `onChange(spec)`;
   * `nothingMessage`: what to say when a change form changes nothing.
   */
  constructor({ schema, fixed = {}, checks = () => [], onChange = null, nothingMessage = null }) {
    this.nothingMessage = nothingMessage;
    this.schema = schema;
    this.fixed = fixed;
    this.checks = checks;
    this.onChange = onChange;
    this.fields = [];
    this.lists = [];
    this.submitted = false;
    this.current = {};
    this.violations = [];
    this.serverViolations = [];
    this.summary = h("div", { class: "form-summary", role: "alert", tabindex: "-1", hidden: true });
  }

  /**
   * Adds a field for `pointer` (a string, or a function for rows). Options: widget, label,
   * description (false: none), options ([{value, label}] for catalogue choices), enumLabels,
   * emptyLabel, when() (UI visibility), baseline (a value left out when unchanged),
   * keepEmpty, patternHint, limits() (extra limits), optional, placeholder, rows.
   */
  field(pointer, opts = {}) {
    const pointerOf = typeof pointer === "function" ? pointer : () => pointer;
    const schema = schemaAt(this.schema, pointerOf()) || {};
    const name = parsePointer(pointerOf()).pop() || "";
    const widget = opts.widget || inferWidget(schema, name);
    const parentPointer = pointerOf().split("/").slice(0, -1).join("/");
    const parentSchema = schemaAt(this.schema, parentPointer) || {};
    const required = (parentSchema.required || []).includes(name);
    const field = createField({
      widget,
      label: opts.label || schema.title || name,
      description: opts.description === false ? null : opts.description || schema.description || null,
      emptyLabel: opts.emptyLabel,
      placeholder: opts.placeholder || (schema.examples ? `e.g. ${schema.examples[0]}` : null),
      keepEmpty: opts.keepEmpty,
      emptyValue: opts.emptyValue,
      rows: opts.rows,
      optional: opts.optional ?? (!required && schema.default === undefined && widget !== "checkbox" && opts.baseline === undefined),
    });
    // Whether it may be left empty follows the values (dynamic memory on: min and max required).
    field.autoOptional = opts.optional === undefined && schema.default === undefined && widget !== "checkbox" && opts.baseline === undefined;
    field.pointer = pointerOf;
    field.opts = opts;
    field.schema = schema;
    field.name = name;
    field.enumOptions = null;
    if (opts.options) field.setOptions(opts.options);
    else if (Array.isArray(schema.enum)) this.setEnum(field, schema.enum);
    const initial = opts.value !== undefined ? opts.value : opts.baseline !== undefined ? opts.baseline : schema.default;
    if (initial !== undefined) field.write(initial);
    field.changed = () => {
      // The operator changed what the server refused: its word no longer applies there.
      this.serverViolations = this.serverViolations.filter((v) => this.place(v)?.field !== field);
      this.refresh();
    };
    field.blurred = () => this.render();
    this.fields.push(field);
    return field;
  }

  setEnum(field, values) {
    if (sameValue(values, field.enumOptions)) return;
    field.enumOptions = values;
    const labels = field.opts.enumLabels || {};
    field.setOptions(values.map((value) => ({ value, label: labels[value] ?? String(value) })));
  }

  /** Replaces a catalogue field's choices, keeping the value when it is still offered. */
  setOptions(field, options) {
    field.setOptions(options);
  }

  /**
   * A repeating section at `pointer` (an array of objects). `renderRow(row)` builds a row's
   * content with `row.field(name, opts)`; returns {node, add(), rows}.
   */
  list(pointer, { addLabel, rowTitle, renderRow, empty = "None." }) {
    const schema = schemaAt(this.schema, pointer) || {};
    const rowsNode = h("div", { class: "list-rows" });
    const emptyNode = h("p", { class: "muted list-empty" }, empty);
    const addButton = h("button", { type: "button", class: "button" }, "+ ", addLabel);
    const errorNode = h("p", { class: "field-error", hidden: true });
    const list = { pointer, rows: [], node: null, errorNode };
    const form = this;
    const relabel = () => {
      list.rows.forEach((row, index) => {
        row.index = index;
        row.titleNode.textContent = rowTitle(index);
        row.removeButton.setAttribute("aria-label", `Remove ${rowTitle(index).toLowerCase()}`);
      });
      emptyNode.hidden = list.rows.length > 0;
      addButton.disabled = schema.maxItems !== undefined && list.rows.length >= schema.maxItems;
      addButton.title = addButton.disabled ? `At most ${schema.maxItems}` : "";
    };
    list.add = () => {
      const row = { index: list.rows.length, fields: [] };
      row.base = () => `${pointer}/${row.index}`;
      row.field = (name, opts) => {
        const field = form.field(() => `${row.base()}/${name}`, opts);
        row.fields.push(field);
        return field;
      };
      row.titleNode = h("h3", { class: "list-row-title" });
      row.removeButton = h("button", { type: "button", class: "button button-quiet button-small" }, icon("close", 12), "Remove");
      row.errorNode = h("p", { class: "field-error row-error", hidden: true });
      row.node = h("div", { class: "list-row" }, h("div", { class: "list-row-head" }, row.titleNode, row.removeButton), row.errorNode);
      row.node.append(...[].concat(renderRow(row)).filter(Boolean));
      row.removeButton.addEventListener("click", () => {
        const at = list.rows.indexOf(row);
        list.rows.splice(at, 1);
        form.fields = form.fields.filter((field) => !row.fields.includes(field));
        row.node.remove();
        relabel();
        form.refresh();
        (list.rows[at]?.removeButton || list.rows[at - 1]?.removeButton || addButton).focus();
      });
      list.rows.push(row);
      rowsNode.append(row.node);
      relabel();
      form.refresh();
      return row;
    };
    addButton.addEventListener("click", () => {
      const row = list.add();
      row.fields.find((field) => !field.hidden)?.focus();
    });
    list.node = h("div", { class: "list" }, rowsNode, emptyNode, errorNode, h("div", { class: "list-actions" }, addButton));
    relabel();
    this.lists.push(list);
    return list;
  }

  build(skipHidden) {
    const spec = {};
    for (const [pointer, value] of Object.entries(this.fixed)) setAt(spec, pointer, value);
    for (const list of this.lists) {
      setAt(spec, list.pointer, []);
      list.rows.forEach((row) => setAt(spec, row.base(), {}));
    }
    for (const field of this.fields) {
      if (field.opts.when && !field.opts.when()) continue;
      if (skipHidden && field.hidden) continue;
      const read = field.read();
      if (read.invalid || read.value === undefined) continue;
      if (field.opts.baseline !== undefined && sameValue(read.value, field.opts.baseline)) continue;
      setAt(spec, field.pointer(), read.value);
    }
    return spec;
  }

  /** The spec as the fields say now (hidden fields left out). */
  spec() {
    return this.current;
  }

  /** Re-evaluates visibility, limits, choices and errors. */
  refresh() {
    let spec = this.build(false);
    for (let pass = 0; pass < 2; pass += 1) {
      for (const field of this.fields) {
        const uiHidden = field.opts.when ? !field.opts.when() : false;
        const state = stateAt(this.schema, spec, field.pointer());
        field.setHidden(uiHidden || !state.allowed);
        field.state = state;
      }
      spec = this.build(true);
    }
    this.current = spec;
    for (const field of this.fields) {
      if (field.hidden) continue;
      if (field.autoOptional) {
        const parent = field.pointer().split("/").slice(0, -1).join("/");
        const required = stateAt(this.schema, spec, parent).schemas.some((schema) => (schema.required || []).includes(field.name));
        field.setOptional(!required);
      }
      const schemas = field.state.schemas;
      if (field.widget === "integer" || field.widget === "bytes") {
        const extra = field.opts.limits ? field.opts.limits(spec) : {};
        field.setLimits(tightest([...schemas, extra].filter(Boolean)));
      }
      if (!field.opts.options && field.enumOptions) {
        const allowed = enumOptions(this.schema, schemas);
        if (allowed) this.setEnum(field, allowed);
      }
    }
    this.violations = this.collect(spec);
    this.render();
    this.onChange?.(spec);
  }

  collect(spec) {
    const found = [...validate(this.schema, spec), ...this.checks(spec, this)];
    for (const field of this.fields) {
      if (field.hidden) continue;
      const read = field.read();
      if (read.invalid) found.push({ pointer: field.pointer(), rule: "type", message: read.invalid, local: true });
    }
    return found;
  }

  fieldAt(pointer) {
    return this.fields.find((field) => !field.hidden && field.pointer() === pointer) || null;
  }

  /** Where a violation shows: {field} | {row} | {list} | null (the form). */
  place(violation) {
    const direct = this.fieldAt(violation.pointer);
    if (direct) return { field: direct };
    const alternatives = violation.params?.alternatives;
    if (alternatives) {
      for (const name of alternatives) {
        const field = this.fieldAt(`${violation.pointer}/${name}`);
        if (field) return { field };
      }
    }
    for (const list of this.lists) {
      if (violation.pointer === list.pointer) return { list };
      const row = list.rows.find((r) => r.base() === violation.pointer);
      if (row) return { row };
    }
    return null;
  }

  message(violation, field) {
    if (violation.local) return violation.message;
    const params = violation.params || {};
    const bytes = field?.widget === "bytes";
    const amount = (value) => (bytes ? fmt.bytes(value) : fmt.count(value));
    const titleOf = (name) => {
      const other = this.fieldAt(`${violation.pointer}/${name}`) || this.fields.find((f) => f.name === name);
      return other ? (other.opts.label || other.schema.title || name).toLowerCase() : name;
    };
    if (violation.server && !violation.params) {
      const allowed = violation.allowed?.length ? ` Valid: ${violation.allowed.join(", ")}.` : "";
      return sentence(violation.message) + allowed;
    }
    switch (violation.rule) {
      case "required":
        return field && (field.widget === "select" || field.widget === "radio") ? "Choose one." : "Required.";
      case "minimum":
        return `Must be at least ${amount(params.limit)}.`;
      case "maximum":
        return `Must be at most ${amount(params.limit)}.`;
      case "multipleOf":
        return bytes ? `Must be a whole multiple of ${fmt.bytes(params.step)}.` : `Must be a multiple of ${params.step}.`;
      case "minLength":
        return params.limit === 1 ? "Required." : `Needs at least ${params.limit} characters.`;
      case "maxLength":
        return `At most ${fmt.count(params.limit)} characters.`;
      case "pattern":
        return field?.opts.patternHint || "Has a character or form that is not allowed here.";
      case "enum":
        return "Choose one of the options.";
      case "anyOf": {
        if (violation.pointer === "" && this.nothingMessage) return this.nothingMessage;
        if (!params.alternatives) return sentence(violation.message);
        // Only the alternatives the form shows now are worth naming (an empty disk: its size).
        const shown = params.alternatives.filter((name) => this.fieldAt(`${violation.pointer}/${name}`));
        if (shown.length === 1) return field && (field.widget === "select" || field.widget === "radio") ? "Choose one." : "Required.";
        return `Give ${(shown.length ? shown : params.alternatives).map(titleOf).join(" or ")}.`;
      }
      case "dependentRequired":
        return params.with ? `Required with ${titleOf(params.with)}.` : "Required with the other values.";
      case "not":
        return params.value !== undefined ? `${params.value} is not possible here.` : "Not possible here.";
      case "then":
      case "else":
      case "dependentSchemas":
        return "Not possible with the other values.";
      default:
        return sentence(violation.message) + (violation.allowed?.length ? ` Valid: ${violation.allowed.join(", ")}.` : "");
    }
  }

  render() {
    const shown = new Map();
    const rowErrors = new Map();
    const listErrors = new Map();
    const formErrors = [];
    const all = [...this.violations, ...this.serverViolations];
    for (const violation of all) {
      const place = this.place(violation);
      if (place?.field) {
        if (!shown.has(place.field)) shown.set(place.field, this.message(violation, place.field));
      } else if (place?.row) {
        if (!rowErrors.has(place.row)) rowErrors.set(place.row, this.message(violation, null));
      } else if (place?.list) {
        if (!listErrors.has(place.list)) listErrors.set(place.list, this.message(violation, null));
      } else formErrors.push(violation);
    }
    for (const field of this.fields) {
      const message = shown.get(field);
      const visible = message && (this.submitted || field.touched || this.serverViolations.length);
      field.setError(visible ? message : null);
    }
    for (const list of this.lists) {
      const message = listErrors.get(list);
      list.errorNode.textContent = message || "";
      list.errorNode.hidden = !(message && this.submitted);
      for (const row of list.rows) {
        const rowMessage = rowErrors.get(row);
        const touched = row.fields.some((field) => field.touched);
        row.errorNode.textContent = rowMessage || "";
        row.errorNode.hidden = !(rowMessage && (this.submitted || touched));
      }
    }
    this.renderSummary(shown, rowErrors, listErrors, formErrors);
  }

  renderSummary(shown, rowErrors, listErrors, formErrors) {
    if (!this.submitted) {
      this.summary.hidden = true;
      return;
    }
    const items = [];
    const inPage = [...shown].sort(([a], [b]) => (a.node.compareDocumentPosition(b.node) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1));
    for (const [field, message] of inPage) {
      const label = field.opts.label || field.schema.title || field.name;
      items.push(
        h("li", {}, h("a", { href: `#${field.id}`, on: { click: (event) => { event.preventDefault(); field.focus(); } } }, `${label}: ${message}`)),
      );
    }
    for (const [row, message] of rowErrors) items.push(h("li", {}, `${row.titleNode.textContent}: ${message}`));
    for (const [, message] of listErrors) items.push(h("li", {}, message));
    for (const violation of formErrors) items.push(h("li", {}, this.message(violation, null)));
    this.summary.replaceChildren();
    if (!items.length) {
      this.summary.hidden = true;
      return;
    }
    this.summary.hidden = false;
    this.summary.append(
      h("p", { class: "form-summary-title" }, items.length === 1 ? "One thing needs fixing:" : `${items.length} things need fixing:`),
      h("ul", {}, items),
    );
  }

  /** Marks every field touched and shows every error; returns whether the spec is valid. */
  validateAll() {
    this.submitted = true;
    this.serverViolations = [];
    this.refresh();
    return this.violations.length === 0;
  }

  /**
   * Shows the server's violations (`{pointer, rule, message, allowed}`) on their fields;
   * the form's own phrasing is used when it found the same problem.
   */
  showServer(violations) {
    this.submitted = true;
    const local = new Map(this.violations.map((v) => [`${v.pointer}|${v.rule}`, v]));
    this.serverViolations = violations.map((v) => local.get(`${v.pointer}|${v.rule}`) || { ...v, server: true, params: undefined });
    this.render();
    const first = this.fields.find((field) => field.error);
    if (first) first.focus();
    else if (!this.summary.hidden) this.summary.focus();
  }

  /** Clears the server's violations once the operator changes something. */
  clearServer() {
    if (!this.serverViolations.length) return;
    this.serverViolations = [];
    this.render();
  }

  /** Focuses the first field with an error, else the summary. */
  focusFirstError() {
    const first = this.fields.find((field) => field.error && !field.hidden);
    if (first) first.focus();
    else if (!this.summary.hidden) this.summary.focus();
  }

  /** The current value at `pointer` in the spec. */
  value(pointer) {
    return at(this.current, pointer);
  }
}
