// Form fields for job specs: one labelled control per spec value, with its description,
// its limits and an error line wired to the control (aria-describedby, aria-invalid).
// Widgets: text, textarea, integer, bytes (a number and a unit; the spec holds bytes),
// checkbox, select and radio. `read()` gives the spec value (undefined = leave it out) or
// a local error (text that is not a number); `write()` sets it. The form (specform.js)
// decides visibility, limits and messages from the schema.

import { h } from "../dom.js";
import * as fmt from "../format.js";

const MiB = 1048576;
const GiB = 1073741824;
const TiB = 1099511627776;
export const UNITS = [
  ["MiB", MiB],
  ["GiB", GiB],
  ["TiB", TiB],
];

let sequence = 0;

/** The unit a byte count reads best in (whole numbers when possible). */
function unitFor(bytes) {
  if (!bytes) return GiB;
  if (bytes >= TiB && bytes % TiB === 0) return TiB;
  if (bytes >= GiB && bytes % (GiB / 4) === 0) return GiB;
  return MiB;
}

function trimNumber(value) {
  return String(Number(value.toFixed(3)));
}

/** Limits as a short hint: "1–64", "32 MiB – 12 TiB, steps of 2 MiB". */
export function limitsText(widget, { minimum, maximum, multipleOf }) {
  const show = widget === "bytes" ? (v) => fmt.bytes(v) : (v) => fmt.count(v);
  const parts = [];
  if (minimum !== undefined && maximum !== undefined) parts.push(widget === "bytes" ? `${show(minimum)} – ${show(maximum)}` : `${show(minimum)}–${show(maximum)}`);
  else if (minimum !== undefined) parts.push(`at least ${show(minimum)}`);
  else if (maximum !== undefined) parts.push(`at most ${show(maximum)}`);
  if (widget === "bytes" && multipleOf && multipleOf > MiB) parts.push(`in steps of ${show(multipleOf)}`);
  return parts.join(", ");
}

/**
 * Creates a field. `spec`: {widget, label, description, options: [{value, label, disabled}],
 * placeholder, keepEmpty, emptyValue (what an empty text or number means: undefined =
 * leave it out, or null), emptyLabel, rows, optional, autocomplete}.
 */
export function createField(spec) {
  sequence += 1;
  const id = `field-${sequence}`;
  const descId = `${id}-desc`;
  const errId = `${id}-err`;
  const limitsId = `${id}-limits`;
  const widget = spec.widget;
  const describedBy = [spec.description ? descId : null, widget === "integer" || widget === "bytes" ? limitsId : null, errId].filter(Boolean).join(" ");
  const error = h("p", { class: "field-error", id: errId, hidden: true });
  const desc = spec.description ? h("p", { class: "field-desc", id: descId }, spec.description) : null;
  const limitsLine = h("span", { class: "field-limits", id: limitsId });
  let input = null;
  let unit = null;
  let radios = [];
  let optionValues = [];
  let node;
  const field = { id, widget, touched: false, hidden: false, error: null };

  // "(optional)" is part of the label's accessible name; the brackets are for screen readers.
  // (Present only while the field is optional, so the label's text is exactly its name.)
  const optional = h("span", { class: "field-optional" }, h("span", { class: "visually-hidden" }, " ("), "optional", h("span", { class: "visually-hidden" }, ")"));
  const optionalTag = () => (spec.optional ? optional : null);

  if (widget === "checkbox") {
    input = h("input", { type: "checkbox", id, class: "check-input", "aria-describedby": describedBy });
    node = h("div", { class: "field field-check" }, h("label", { class: "check", for: id }, input, h("span", {}, spec.label)), desc, error);
  } else if (widget === "radio") {
    const name = `${id}-radio`;
    const group = h("div", { class: "segmented", role: "radiogroup", "aria-labelledby": `${id}-legend` });
    node = h(
      "fieldset",
      { class: "field field-radio", "aria-describedby": describedBy },
      h("legend", { class: "field-label", id: `${id}-legend` }, spec.label, optionalTag()),
      group,
      desc,
      error,
    );
    field.renderOptions = (list) => {
      const current = field.rawValue();
      optionValues = list;
      radios = list.map((option, index) => {
        const radio = h("input", { type: "radio", name, id: `${id}-${index}`, value: String(index), checked: option.value === current, disabled: option.disabled || false });
        return radio;
      });
      group.replaceChildren(...list.map((option, index) => h("label", { class: "segment", for: `${id}-${index}` }, radios[index], h("span", {}, option.label))));
      for (const radio of radios) {
        radio.addEventListener("change", () => {
          field.touched = true;
          field.changed?.();
        });
      }
    };
    field.rawValue = () => {
      const checked = radios.findIndex((radio) => radio.checked);
      return checked >= 0 ? optionValues[checked]?.value : undefined;
    };
  } else {
    if (widget === "select") {
      input = h("select", { id, "aria-describedby": describedBy });
      field.renderOptions = (list) => {
        const current = field.rawValue();
        optionValues = list;
        const empty = spec.emptyLabel !== undefined ? [h("option", { value: "" }, spec.emptyLabel)] : [];
        // The option's value is the spec value as text (a typed value is found back by it).
        input.replaceChildren(...empty, ...list.map((option) => h("option", { value: String(option.value), disabled: option.disabled || false }, option.label)));
        const index = list.findIndex((option) => option.value === current);
        input.value = index >= 0 ? String(list[index].value) : spec.emptyLabel !== undefined ? "" : list.length ? String(list[0].value) : "";
      };
      field.rawValue = () => (input.value === "" ? undefined : optionValues.find((option) => String(option.value) === input.value)?.value);
    } else if (widget === "textarea") {
      input = h("textarea", { id, rows: spec.rows || 3, "aria-describedby": describedBy, spellcheck: "true" });
    } else {
      const numeric = widget === "integer" || widget === "bytes";
      input = h("input", {
        id,
        type: numeric ? "number" : "text",
        inputmode: widget === "integer" ? "numeric" : widget === "bytes" ? "decimal" : null,
        step: widget === "integer" ? "1" : widget === "bytes" ? "any" : null,
        autocomplete: spec.autocomplete || "off",
        spellcheck: "false",
        placeholder: spec.placeholder || null,
        "aria-describedby": describedBy,
      });
      if (widget === "bytes") {
        unit = h(
          "select",
          { class: "unit", "aria-label": `${spec.label}: unit` },
          UNITS.map(([label, size]) => h("option", { value: String(size), selected: size === GiB }, label)),
        );
      }
    }
    const control = unit ? h("div", { class: "field-control with-unit" }, input, unit) : input;
    node = h(
      "div",
      { class: ["field", `field-${widget}`] },
      h("label", { class: "field-label", for: id }, spec.label, optionalTag()),
      control,
      widget === "integer" || widget === "bytes" ? limitsLine : null,
      desc,
      error,
    );
  }

  field.node = node;
  field.input = input || null;
  field.focus = () => (radios.find((r) => r.checked) || radios[0] || input)?.focus();

  /** The spec value: {value} (undefined = left out) or {invalid: message}. */
  field.read = () => {
    switch (widget) {
      case "checkbox":
        return { value: input.checked };
      case "radio":
      case "select":
        return { value: field.rawValue() };
      case "integer": {
        const text = input.value.trim();
        if (input.validity?.badInput) return { invalid: "Enter a whole number." };
        if (text === "") return { value: spec.emptyValue };
        const number = Number(text);
        if (!Number.isInteger(number)) return { invalid: "Enter a whole number." };
        return { value: number };
      }
      case "bytes": {
        const text = input.value.trim();
        if (input.validity?.badInput) return { invalid: "Enter a number." };
        if (text === "") return { value: undefined };
        const number = Number(text);
        if (!Number.isFinite(number) || number < 0) return { invalid: "Enter a positive number." };
        return { value: Math.round(number * Number(unit.value)) };
      }
      default: {
        const text = input.value;
        if (text === "" && !spec.keepEmpty) return { value: spec.emptyValue };
        return { value: text };
      }
    }
  };

  /** Shows `value` (a spec value; undefined clears). */
  field.write = (value) => {
    switch (widget) {
      case "checkbox":
        input.checked = Boolean(value);
        break;
      case "radio":
        for (let i = 0; i < radios.length; i += 1) radios[i].checked = optionValues[i]?.value === value;
        break;
      case "select": {
        const known = optionValues.some((option) => option.value === value);
        input.value = known ? String(value) : spec.emptyLabel !== undefined ? "" : input.value;
        break;
      }
      case "bytes":
        if (value === undefined || value === null) input.value = "";
        else {
          const size = unitFor(value);
          unit.value = String(size);
          input.value = trimNumber(value / size);
        }
        break;
      default:
        input.value = value === undefined || value === null ? "" : String(value);
    }
  };

  field.setOptions = (list) => field.renderOptions?.(list);

  field.setOptional = (value) => {
    const label = node.querySelector(".field-label");
    if (value && !optional.isConnected) label?.append(optional);
    else if (!value && optional.isConnected) optional.remove();
  };

  field.setLimits = (limits) => {
    if (widget !== "integer" && widget !== "bytes") return;
    const text = limitsText(widget, limits);
    limitsLine.textContent = text ? `Allowed: ${text}` : "";
    if (widget === "integer") {
      if (limits.minimum !== undefined) input.min = String(limits.minimum);
      else input.removeAttribute("min");
      if (limits.maximum !== undefined) input.max = String(limits.maximum);
      else input.removeAttribute("max");
    }
  };

  field.setError = (message) => {
    field.error = message || null;
    error.textContent = message || "";
    error.hidden = !message;
    const targets = widget === "radio" ? radios : [input];
    for (const target of targets) {
      if (message) target.setAttribute("aria-invalid", "true");
      else target.removeAttribute("aria-invalid");
    }
    node.classList.toggle("has-error", Boolean(message));
  };

  field.setHidden = (hidden) => {
    field.hidden = hidden;
    node.hidden = hidden;
  };

  field.setDisabled = (disabled, why = null) => {
    const targets = widget === "radio" ? radios : [input, unit].filter(Boolean);
    for (const target of targets) target.disabled = disabled;
    node.classList.toggle("is-disabled", disabled);
    node.title = disabled && why ? why : "";
  };

  const listen = (target) => {
    if (!target) return;
    target.addEventListener("input", () => {
      field.touched = true;
      field.changed?.();
    });
    target.addEventListener("change", () => {
      field.touched = true;
      field.changed?.();
    });
    target.addEventListener("blur", () => {
      if (!field.touched && (target.value ?? "") !== "") field.touched = true;
      field.blurred?.();
    });
  };
  listen(input);
  listen(unit);
  if (spec.options) field.setOptions(spec.options);
  return field;
}
