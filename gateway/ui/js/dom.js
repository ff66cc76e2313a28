// DOM building without HTML strings: every text from the API becomes a text node, so
// nothing an operator or a host names can inject markup (and the CSP forbids inline
// script and style anyway). `h("a", { href, class: "x", on: { click } }, "text", child)`.

const SVG_NS = "http://www.w3.org/2000/svg";

function applyProps(node, props) {
  if (!props) return;
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") {
      node.setAttribute("class", Array.isArray(value) ? value.filter(Boolean).join(" ") : value);
    } else if (key === "on") {
      for (const [event, handler] of Object.entries(value)) node.addEventListener(event, handler);
    } else if (key === "dataset") {
      for (const [name, data] of Object.entries(value)) {
        if (data !== undefined && data !== null) node.dataset[name] = String(data);
      }
    } else if (key === "text") {
      node.textContent = String(value);
    } else if (key === "value" && "value" in node) {
      node.value = value;
    } else if (key === "checked" || key === "selected" || key === "disabled" || key === "indeterminate") {
      node[key] = Boolean(value);
    } else if (value === true) {
      node.setAttribute(key, "");
    } else {
      node.setAttribute(key, String(value));
    }
  }
}

function appendChildren(node, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false || child === "") continue;
    if (Array.isArray(child)) appendChildren(node, child);
    else node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Creates an HTML element. */
export function h(tag, props, ...children) {
  const node = document.createElement(tag);
  applyProps(node, props);
  appendChildren(node, children);
  return node;
}

/** Creates an SVG element (icons, sparklines). */
export function svg(tag, props, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  applyProps(node, props);
  appendChildren(node, children);
  return node;
}

/** Replaces every child of `node`. */
export function replace(node, ...children) {
  node.replaceChildren();
  appendChildren(node, children);
  return node;
}

/** Small inline icons, drawn with strokes so they follow the text colour. */
const ICONS = {
  play: "M6 4.5v11l9-5.5z",
  power: "M10 3v6M6.2 5.6a6 6 0 1 0 7.6 0",
  stop: "M5.5 5.5h9v9h-9z",
  reset: "M4.5 10a5.5 5.5 0 1 0 1.7-4M4.5 3.5v3h3",
  chevron: "M7.5 5l5 5-5 5",
  cluster: "M3 4h14v4H3zM3 12h14v4H3z",
  host: "M3.5 3.5h13v5h-13zM3.5 11.5h13v5h-13zM6 6h.01M6 14h.01",
  vm: "M2.5 4.5h15v9h-15zM7 16.5h6M10 13.5v3",
  warning: "M10 3 18 17H2zM10 8v4M10 14.5h.01",
  refresh: "M15.5 10a5.5 5.5 0 1 1-1.7-4M15.5 3.5v3h-3",
  close: "M5 5l10 10M15 5 5 15",
  external: "M8 4H4v12h12v-4M11 3h6v6M17 3l-8 8",
  search: "M8.5 3.5a5 5 0 1 1 0 10 5 5 0 0 1 0-10zM12.2 12.2 17 17",
  pause: "M7 5v10M13 5v10",
  save: "M4.5 3.5h9l2 2v11h-11zM7 3.5v4h6v-4M7 16.5v-5h6v5",
  edit: "M4 16l1-4 8.5-8.5 3 3L8 15zM11.5 5.5l3 3",
  trash: "M4 6h12M8 6V4h4v2M6 6l1 10h6l1-10",
  plus: "M10 4v12M4 10h12",
  jobs: "M4 5h12M4 10h12M4 15h7",
};

/** An icon by name (see ICONS). */
export function icon(name, size = 16) {
  return svg(
    "svg",
    { viewBox: "0 0 20 20", width: size, height: size, "aria-hidden": "true", class: `icon icon-${name}` },
    svg("path", {
      d: ICONS[name] || "",
      fill: name === "play" || name === "stop" ? "currentColor" : "none",
      stroke: "currentColor",
      "stroke-width": "1.7",
      "stroke-linecap": "round",
      "stroke-linejoin": "round",
    }),
  );
}

/** Calls `fn` once no call has come for `wait` ms. `.cancel()` drops a pending call. */
export function debounce(fn, wait) {
  let timer = null;
  const wrapped = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      fn(...args);
    }, wait);
  };
  wrapped.cancel = () => clearTimeout(timer);
  return wrapped;
}

/**
 * Calls `fn` at most once per `wait` ms (a number, or a function giving it), always running
 * a trailing call after the last request (so the last change is never lost). `.cancel()`
 * drops a pending call.
 */
export function throttle(fn, wait) {
  let last = 0;
  let timer = null;
  const run = () => {
    timer = null;
    last = Date.now();
    fn();
  };
  const wrapped = () => {
    if (timer) return;
    const period = typeof wait === "function" ? wait() : wait;
    const due = Math.max(0, last + period - Date.now());
    timer = setTimeout(run, due);
  };
  wrapped.cancel = () => {
    clearTimeout(timer);
    timer = null;
  };
  return wrapped;
}

/**
 * Reconciles the rows of `parent` with `items`: a row whose key and `version` are unchanged
 * is kept (focus and selection survive live updates), others are rebuilt with `render`.
 */
export function keyedRows(parent, items, key, version, render) {
  const existing = new Map();
  for (const child of parent.children) existing.set(child.dataset.key, child);
  let position = 0;
  for (const item of items) {
    const id = String(key(item));
    const stamp = String(version(item));
    let row = existing.get(id);
    if (row && row.dataset.version !== stamp) {
      const fresh = render(item);
      fresh.dataset.key = id;
      fresh.dataset.version = stamp;
      row.replaceWith(fresh);
      row = fresh;
    } else if (!row) {
      row = render(item);
      row.dataset.key = id;
      row.dataset.version = stamp;
    }
    existing.delete(id);
    if (parent.children[position] !== row) parent.insertBefore(row, parent.children[position] || null);
    position += 1;
  }
  for (const stale of existing.values()) stale.remove();
}
