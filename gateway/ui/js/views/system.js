// The system page (`/system`): what this gateway is (version, API, mode, live topics) and
// whether the services behind it answer (GET /readyz: each dependency's health, endpoint
// and the reasons it is not ready, including configuration errors). Refreshed every 10 s
// while open, and on demand.

import { get, readiness } from "../api.js";
import { h, replace, icon } from "../dom.js";
import { setTitle } from "../router.js";
import { panel, facts, errorBox, loading, alert, pageHeader, scrollBox, ageText } from "../components/common.js";

const REFRESH_MS = 10000;

const HEALTH = {
  serving: ["ok", "Serving"],
  not_serving: ["bad", "Not serving"],
  unreachable: ["bad", "Unreachable"],
  unknown: ["neutral", "Unknown"],
};

function healthBadge(health) {
  const [tone, label] = HEALTH[health] || HEALTH.unknown;
  return h("span", { class: ["badge", `tone-${tone}`] }, h("span", { class: "badge-dot", "aria-hidden": "true" }), label);
}

function dependencyTable(dependencies) {
  return scrollBox(
    "Services",
    h(
      "table",
      { class: "data-table" },
      h("caption", { class: "visually-hidden" }, "Services the gateway depends on"),
      h(
        "thead",
        {},
        h("tr", {}, h("th", { scope: "col" }, "Service"), h("th", { scope: "col" }, "Health"), h("th", { scope: "col" }, "Endpoint"), h("th", { scope: "col" }, "Version"), h("th", { scope: "col" }, "Why not ready")),
      ),
      h(
        "tbody",
        {},
        dependencies.map((dependency) =>
          h(
            "tr",
            { class: dependency.ready ? null : "row-bad" },
            h("td", { class: "nowrap" }, dependency.service || dependency.name.replace(/_/g, "-")),
            h("td", {}, healthBadge(dependency.health)),
            h("td", { class: "mono" }, dependency.endpoint || "—"),
            h("td", {}, dependency.version || h("span", { class: "muted" }, "—")),
            h("td", { class: "reason" }, dependency.reasons?.length ? h("ul", { class: "plain-list" }, dependency.reasons.map((reason) => h("li", {}, reason))) : h("span", { class: "muted" }, "—")),
          ),
        ),
      ),
    ),
  );
}

export function mount(container) {
  setTitle("System");
  const aboutBox = h("div", {}, loading());
  const readyBox = h("div", {}, loading());
  const refreshButton = h("button", { type: "button", class: "button" }, icon("refresh", 14), "Refresh");
  replace(container, 
    pageHeader({ crumbs: [["Overview", "/"], ["System", null]], title: "System", actions: refreshButton }),
    h(
      "div",
      { class: "grid-2" },
      panel("Gateway", { id: "system-about" }, aboutBox),
      panel("Interfaces", { id: "system-links" }, h("ul", { class: "link-list" }, h("li", {}, h("a", { href: "/docs" }, "API reference"), h("span", { class: "muted" }, " — every route, rendered from the OpenAPI document")), h("li", {}, h("a", { href: "/api/v1/openapi.json", "data-external": "" }, "OpenAPI 3.1 document")), h("li", {}, h("a", { href: "/readyz", "data-external": "" }, "/readyz"), h("span", { class: "muted" }, " — readiness as JSON")))),
    ),
    panel("Services", { id: "system-services" }, readyBox),
  );

  let controller = null;
  let timer = null;
  async function load() {
    controller?.abort();
    controller = new AbortController();
    const { signal } = controller;
    const [about, ready] = await Promise.allSettled([get("/about", { signal }), readiness({ signal })]);
    if (signal.aborted) return;
    if (about.status === "fulfilled") {
      const a = about.value;
      replace(aboutBox, 
        facts([
          ["Product", `${a.name} ${a.version}`],
          ["API", a.api_version],
          ["Mode", a.dev_mode ? h("span", { class: "tone-text-warn" }, "Development (no authentication)") : "Production"],
          ["Authentication", a.authentication === "none" ? "None" : a.authentication],
          ["Live topics", a.topics.length ? a.topics.join(", ") : "—"],
        ]),
      );
    } else replace(aboutBox, errorBox(about.reason, load, "Could not read /api/v1/about"));
    if (ready.status === "fulfilled") {
      const r = ready.value;
      const notices = [];
      if (!r.ready) notices.push(alert("bad", "Not ready", h("p", {}, r.not_ready?.length ? `Waiting for: ${r.not_ready.join(", ")}.` : "The gateway is not ready.")));
      if (r.issues?.length) notices.push(alert("bad", "Configuration problems", h("ul", {}, r.issues.map((issue) => h("li", {}, issue)))));
      replace(readyBox, 
        ...notices,
        h("p", { class: "muted panel-lead" }, r.ready ? "Every service answers its health check. " : "", "Checked ", ageText(r.checked_at), "."),
        dependencyTable(r.dependencies || []),
      );
    } else replace(readyBox, errorBox(ready.reason, load, "Could not read /readyz"));
  }
  refreshButton.addEventListener("click", load);
  load();
  timer = setInterval(() => {
    if (!document.hidden) load();
  }, REFRESH_MS);
  return {
    unmount() {
      controller?.abort();
      clearInterval(timer);
    },
  };
}
