// The host page (`/hosts/{name}`): status (with the reason and last-seen age when
// unreachable), hardware and capacity, virtual switches, storage locations, and the host's
// VMs in the shared VM table (its query in the URL). Follows the host live.

import { get, segment, ApiError } from "../api.js";
import { h, replace, throttle } from "../dom.js";
import * as fmt from "../format.js";
import { setTitle } from "../router.js";
import {
  hostBadge,
  cpuBar,
  memoryBar,
  spaceBar,
  panel,
  facts,
  ageText,
  errorBox,
  loading,
  empty,
  alert,
  pageHeader,
  scrollBox,
} from "../components/common.js";
import { vmTable } from "../components/vmtable.js";

function switchesTable(switches) {
  if (!switches.length) return empty("No virtual switches.");
  return h(
    "table",
    { class: "data-table" },
    h("caption", { class: "visually-hidden" }, "Virtual switches"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Switch"), h("th", { scope: "col" }, "Type"), h("th", { scope: "col" }, "Uplink"))),
    h(
      "tbody",
      {},
      switches.map((sw) =>
        h(
          "tr",
          {},
          h("td", {}, sw.name),
          h("td", {}, sw.type[0].toUpperCase() + sw.type.slice(1)),
          h("td", { class: "truncate-cell", title: sw.uplink || "" }, sw.uplink || h("span", { class: "muted" }, "—")),
        ),
      ),
    ),
  );
}

function storageTable(locations) {
  if (!locations.length) return empty("No storage locations reported.");
  return h(
    "table",
    { class: "data-table" },
    h("caption", { class: "visually-hidden" }, "Storage locations"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Path"), h("th", { scope: "col", class: "num" }, "Size"), h("th", { scope: "col", class: "col-bar" }, "Free"))),
    h(
      "tbody",
      {},
      locations.map((location) =>
        h(
          "tr",
          {},
          h("td", { class: "mono path-cell", title: location.path }, location.path),
          h("td", { class: "num" }, fmt.bytes(location.total_bytes)),
          h("td", { class: "col-bar" }, spaceBar(location.total_bytes, location.free_bytes)),
        ),
      ),
    ),
  );
}

export function mount(container, { params, query, ctx, router }) {
  const { store } = ctx;
  const name = (params[0] || "").toLowerCase();
  let host = null;
  let controller = null;
  const top = h("div");
  const table = vmTable({ ctx, router, search: query, fixed: { host: name }, label: `VMs on ${name}` });
  const vmsPanel = panel("Virtual machines", { id: "host-vms" }, table.node);
  vmsPanel.hidden = true;
  replace(container, h("div", { class: "host-page" }, top, vmsPanel));
  setTitle(fmt.shortHost(name));
  replace(top, loading("Loading the host…"));

  async function load() {
    controller?.abort();
    controller = new AbortController();
    try {
      host = await get(`/hosts/${segment(name)}`, { signal: controller.signal });
      render();
    } catch (error) {
      if (error && error.name === "AbortError") return;
      vmsPanel.hidden = !(error instanceof ApiError && error.status !== 404);
      if (error instanceof ApiError && error.status === 404) {
        setTitle("Host not found");
        replace(top, 
          pageHeader({ crumbs: [["Overview", "/"], ["Not found", null]], title: "Host not found" }),
          alert("warn", "No host has this name", h("p", { class: "mono" }, name), h("p", {}, "Hosts are named by their configured name, in lower case. ", h("a", { href: "/" }, "See every host"), ".")),
        );
        return;
      }
      replace(top, pageHeader({ crumbs: [["Overview", "/"]], title: name }), errorBox(error, load));
    }
  }

  function render() {
    setTitle(fmt.shortHost(host.name));
    vmsPanel.hidden = false;
    const crumbs = [["Overview", "/"]];
    if (host.cluster) crumbs.push([host.cluster, `/clusters/${segment(host.cluster)}`]);
    crumbs.push([fmt.shortHost(host.name), null]);
    const badges = [hostBadge(host.status)];
    if (host.slow) badges.push(h("span", { class: "tag tone-warn", title: "Refreshes much slower than the other hosts" }, "slow"));
    const notices = [];
    if (host.status === "unreachable") {
      notices.push(
        alert(
          "bad",
          "This host is unreachable",
          h("p", {}, host.status_reason ? `Reason: ${host.status_reason}` : "No reason was given."),
          h("p", {}, "Last seen ", ageText(host.last_seen), ". Its ", fmt.plural(host.vm_count, "VM"), " below show the last known data (marked stale)."),
        ),
      );
    } else if (host.status === "unknown") {
      notices.push(alert("info", "Not refreshed yet", h("p", {}, "Inventory has not heard from this host since it started.")));
    }
    replace(top, 
      pageHeader({
        crumbs,
        title: host.name,
        kicker: "Host",
        badges,
        sub: h("p", { class: "muted" }, host.cluster ? ["Member of cluster ", h("a", { href: `/clusters/${segment(host.cluster)}` }, host.cluster)] : "Standalone host"),
        actions: host.status === "reachable" ? h("a", { class: "button button-primary", href: `/vms/new?host=${encodeURIComponent(host.name)}` }, "New VM here") : null,
      }),
      ...notices,
      h(
        "div",
        { class: "grid-2" },
        panel(
          "Host",
          { id: "host-facts" },
          facts([
            ["Status", hostBadge(host.status)],
            host.status_reason ? ["Reason", host.status_reason] : null,
            ["FQDN", host.fqdn],
            ["Cluster", host.cluster ? h("a", { href: `/clusters/${segment(host.cluster)}` }, host.cluster) : "Standalone"],
            ["Logical processors", fmt.count(host.cpu_cores)],
            ["Memory", `${fmt.bytes(host.memory_total_bytes)} (${fmt.bytes(host.memory_available_bytes)} available)`],
            ["VMs", fmt.count(host.vm_count)],
            [
              host.status === "unreachable" ? "Last attempt" : "Last refresh",
              host.last_refresh
                ? [ageText(host.last_refresh), host.status !== "unreachable" && host.last_refresh_duration_seconds !== null ? h("span", { class: "muted" }, ` · took ${fmt.seconds(host.last_refresh_duration_seconds)}`) : null]
                : null,
            ],
            ["Last seen", ageText(host.last_seen)],
          ]),
        ),
        h(
          "div",
          { class: "stack-col" },
          panel("Capacity", { id: "host-capacity" }, h("div", { class: "capacity-grid" }, cpuBar(host.capacity), memoryBar(host.capacity))),
          panel(`Virtual switches (${host.virtual_switches.length})`, { id: "host-switches" }, scrollBox("Virtual switches", switchesTable(host.virtual_switches))),
        ),
      ),
      panel(`Storage locations (${host.storage_locations.length})`, { id: "host-storage" }, scrollBox("Storage locations", storageTable(host.storage_locations))),
    );
  }

  const rerender = throttle(() => host && render(), 500);
  const onStore = (event) => {
    if (event.detail.reason !== "host" || event.detail.name !== name) return;
    const next = store.hosts.get(name);
    if (next && host && next.revision >= host.revision) {
      host = next;
      rerender();
    } else if (!next && host) {
      load();
    }
  };
  const onResync = () => load();
  store.addEventListener("change", onStore);
  store.addEventListener("resync", onResync);
  load();

  return {
    update: (search) => table.update(search),
    unmount() {
      controller?.abort();
      rerender.cancel();
      table.unmount();
      store.removeEventListener("change", onStore);
      store.removeEventListener("resync", onResync);
    },
  };
}
