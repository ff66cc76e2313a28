// Small building blocks every view uses: state badges and dots, capacity bars, panels,
// fact lists, ages that keep themselves current, loading/empty/error states.

import { h, icon } from "../dom.js";
import * as fmt from "../format.js";
import { describeError } from "../api.js";

/** A VM state badge ("Running" in green, transitional states pulse). */
export function stateBadge(state) {
  return h(
    "span",
    { class: ["badge", `tone-${fmt.stateTone(state)}`, fmt.transitional(state) && "badge-busy"], dataset: { state } },
    h("span", { class: "badge-dot", "aria-hidden": "true" }),
    fmt.stateLabel(state),
  );
}

/** A host status badge. */
export function hostBadge(status) {
  return h(
    "span",
    { class: ["badge", `tone-${fmt.hostStatusTone(status)}`], dataset: { status } },
    h("span", { class: "badge-dot", "aria-hidden": "true" }),
    fmt.hostStatusLabel(status),
  );
}

/** A bare status dot with an accessible label. */
export function dot(tone, label) {
  return h("span", { class: ["dot", `tone-${tone}`], role: "img", "aria-label": label, title: label });
}

/** A small "stale" marker for records whose host is unreachable. */
export function staleTag() {
  return h("span", { class: "tag tone-warn", title: "The host is unreachable: this is the last known data" }, "stale");
}

/** A self-updating age ("3 min ago") with the exact time in its tooltip. */
export function ageText(iso, { prefix = "", never = "never" } = {}) {
  if (!iso) return h("span", { class: "muted" }, never);
  return h("time", { datetime: iso, title: fmt.time(iso), dataset: { age: iso, prefix } }, prefix + fmt.age(iso));
}

/** A time in the operator's locale. */
export function timeText(iso) {
  if (!iso) return h("span", { class: "muted" }, "—");
  return h("time", { datetime: iso, title: iso }, fmt.time(iso));
}

let ticker = null;
/** Keeps every `ageText` current (one timer for the page). */
export function startAgeTicker() {
  if (ticker) return;
  ticker = setInterval(() => {
    const now = Date.now();
    for (const node of document.querySelectorAll("time[data-age]")) {
      const text = (node.dataset.prefix || "") + fmt.age(node.dataset.age, now);
      if (node.textContent !== text) node.textContent = text;
    }
    for (const node of document.querySelectorAll("[data-uptime-base]")) {
      const base = Number(node.dataset.uptimeBase);
      const since = Number(node.dataset.uptimeSince);
      const text = fmt.duration(base + (now - since) / 1000);
      if (node.textContent !== text) node.textContent = text;
    }
  }, 5000);
}

/** An uptime that counts up between refreshes (0 → "—"). */
export function uptimeText(seconds, running) {
  if (!running || seconds === null || seconds === undefined) return h("span", { class: "muted" }, "—");
  return h("span", { dataset: { uptimeBase: seconds, uptimeSince: Date.now() } }, fmt.duration(seconds));
}

function segment(className, fraction) {
  const node = h("span", { class: ["bar-seg", className] });
  node.style.width = `${Math.max(0, Math.min(1, fraction)) * 100}%`;
  return node;
}

/**
 * CPU: vCPUs of running VMs against logical processors. Past 100% (overcommit, normal on
 * Hyper-V) the bar's scale becomes the vCPU count and the part beyond the processors is
 * amber, so the boundary stays visible.
 */
export function cpuBar(capacity, { compact = false } = {}) {
  const cores = capacity?.cpu_cores || 0;
  const assigned = capacity?.vcpus_assigned || 0;
  const configured = capacity?.vcpus_configured || 0;
  const scale = Math.max(cores, assigned) || 1;
  const label = cores
    ? `CPU: ${fmt.count(assigned)} vCPU of running VMs on ${fmt.count(cores)} logical processors (${fmt.percent(assigned, cores)}); ${fmt.count(configured)} vCPU configured in all VMs`
    : "CPU: no processors reported";
  const track = h(
    "span",
    { class: "bar", role: "img", "aria-label": label, title: label },
    segment("bar-vm", Math.min(assigned, cores) / scale),
    segment("bar-over-seg", Math.max(0, assigned - cores) / scale),
  );
  const text = cores ? `${fmt.count(assigned)} / ${fmt.count(cores)}` : "—";
  return h(
    "span",
    { class: ["meter", compact && "meter-compact"] },
    compact ? null : h("span", { class: "meter-label" }, "CPU"),
    track,
    h("span", { class: "meter-value" }, text, compact ? null : h("span", { class: "muted" }, ` vCPU · ${fmt.percent(assigned, cores)}`)),
  );
}

/**
 * Memory: assigned to VMs, used by the host itself (total − available − assigned), and
 * available, out of the host's total.
 */
export function memoryBar(capacity, { compact = false } = {}) {
  const total = capacity?.memory_total_bytes || 0;
  const available = capacity?.memory_available_bytes || 0;
  const assigned = capacity?.memory_assigned_bytes || 0;
  const other = Math.max(0, total - available - assigned);
  const label = total
    ? `Memory: ${fmt.bytes(assigned)} assigned to VMs, ${fmt.bytes(other)} used by the host, ${fmt.bytes(available)} available of ${fmt.bytes(total)}`
    : "Memory: not reported";
  const track = h(
    "span",
    { class: "bar", role: "img", "aria-label": label, title: label },
    segment("bar-vm", total ? assigned / total : 0),
    segment("bar-host", total ? other / total : 0),
  );
  const text = total ? `${fmt.bytes(assigned)} / ${fmt.bytes(total)}` : "—";
  return h(
    "span",
    { class: ["meter", compact && "meter-compact"] },
    compact ? null : h("span", { class: "meter-label" }, "Memory"),
    track,
    h("span", { class: "meter-value" }, text, compact ? null : h("span", { class: "muted" }, ` · ${fmt.bytes(available)} free`)),
  );
}

/** A storage location's fill. */
export function spaceBar(total, free) {
  const used = Math.max(0, (total || 0) - (free || 0));
  const fraction = total ? used / total : 0;
  const label = total ? `${fmt.bytes(used)} used, ${fmt.bytes(free)} free of ${fmt.bytes(total)}` : "size not reported";
  return h(
    "span",
    { class: "meter meter-compact" },
    h("span", { class: ["bar", fraction > 0.9 && "bar-over"], role: "img", "aria-label": label, title: label }, segment("bar-vm", fraction)),
    h("span", { class: "meter-value" }, `${fmt.bytes(free)} free`),
  );
}

const overflowWatch = new ResizeObserver((entries) => {
  for (const entry of entries) {
    const box = entry.target;
    const scrolls = box.scrollWidth > box.clientWidth + 1;
    if (scrolls && !box.hasAttribute("tabindex")) box.tabIndex = 0;
    else if (!scrolls && box.hasAttribute("tabindex")) box.removeAttribute("tabindex");
  }
});

/**
 * A horizontally scrolling box for a wide table. When its content overflows (a phone) it
 * becomes a labelled, focusable region so keyboard users can scroll it too.
 */
export function scrollBox(label, ...children) {
  const box = h("div", { class: "table-scroll", role: "region", "aria-label": `${label} (table)` }, ...children);
  overflowWatch.observe(box);
  return box;
}

/** A titled panel (a <section> with an <h2>). */
export function panel(title, { actions = null, id = null, className = null } = {}, ...children) {
  const headingId = id ? `${id}-title` : null;
  return h(
    "section",
    { class: ["panel", className], id, "aria-labelledby": headingId },
    title ? h("header", { class: "panel-head" }, h("h2", { id: headingId }, title), actions ? h("div", { class: "panel-actions" }, actions) : null) : null,
    h("div", { class: "panel-body" }, ...children),
  );
}

/** A definition list of [label, value] pairs (value: node or text; null → "—"). */
export function facts(pairs) {
  return h(
    "dl",
    { class: "facts" },
    pairs.filter(Boolean).map(([label, value]) => [
      h("dt", {}, label),
      h("dd", {}, value === null || value === undefined || value === "" ? h("span", { class: "muted" }, "—") : value),
    ]),
  );
}

/** A loading placeholder. */
export function loading(text = "Loading…") {
  return h("div", { class: "loading", role: "status" }, h("span", { class: "spinner", "aria-hidden": "true" }), text);
}

/** An empty state. */
export function empty(title, hint = null) {
  return h("div", { class: "empty" }, h("p", { class: "empty-title" }, title), hint ? h("p", { class: "muted" }, hint) : null);
}

/** An error box with what went wrong and, when given, a retry button. */
export function errorBox(error, retry = null, title = "Could not load this view") {
  const code = error && error.code ? error.code : null;
  return h(
    "div",
    { class: "alert tone-bad", role: "alert" },
    icon("warning", 18),
    h(
      "div",
      { class: "alert-body" },
      h("p", { class: "alert-title" }, title),
      h("p", {}, describeError(error)),
      code && error.message && describeError(error) !== error.message ? h("p", { class: "muted alert-detail" }, `${error.message} (${code})`) : code ? h("p", { class: "muted alert-detail" }, code) : null,
    ),
    retry ? h("button", { type: "button", class: "button", on: { click: retry } }, icon("refresh", 14), "Retry") : null,
  );
}

/** An inline alert (tone: warn, bad, info, ok). */
export function alert(tone, title, ...body) {
  return h(
    "div",
    { class: ["alert", `tone-${tone}`], role: tone === "bad" ? "alert" : "status" },
    icon(tone === "ok" || tone === "info" ? "refresh" : "warning", 18),
    h("div", { class: "alert-body" }, h("p", { class: "alert-title" }, title), ...body),
  );
}

/** The page header: breadcrumbs, a title with badges, and actions. */
export function pageHeader({ crumbs = [], title, kicker = null, badges = [], actions = null, sub = null }) {
  return h(
    "header",
    { class: "page-head" },
    crumbs.length
      ? h(
          "nav",
          { class: "crumbs", "aria-label": "Breadcrumb" },
          h("ol", {}, crumbs.map(([label, href]) => h("li", {}, href ? h("a", { href }, label) : h("span", { "aria-current": "page" }, label)))),
        )
      : null,
    h(
      "div",
      { class: "page-title-row" },
      h("div", { class: "page-title" }, kicker ? h("span", { class: "kicker" }, kicker) : null, h("h1", { id: "page-title" }, title), ...badges),
      actions ? h("div", { class: "page-actions" }, actions) : null,
    ),
    sub ? h("div", { class: "page-sub" }, sub) : null,
  );
}
