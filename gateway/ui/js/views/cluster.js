// The cluster page (`/clusters/{name}`): its hosts with status and capacity, the
// cluster's capacity, and its VMs in the shared VM table. Follows the store live.

import { get, segment, ApiError } from "../api.js";
import { h, replace, throttle, keyedRows } from "../dom.js";
import * as fmt from "../format.js";
import { setTitle } from "../router.js";
import { hostBadge, cpuBar, memoryBar, panel, facts, ageText, errorBox, loading, alert, pageHeader, scrollBox } from "../components/common.js";
import { vmTable } from "../components/vmtable.js";

export function mount(container, { params, query, ctx, router }) {
  const { store } = ctx;
  const name = (params[0] || "").toLowerCase();
  let cluster = null;
  let controller = null;
  const top = h("div");
  const hostBody = h("tbody");
  const hostsPanel = panel(
    "Hosts",
    { id: "cluster-hosts" },
    scrollBox("Hosts of this cluster",
      h(
        "table",
        { class: "data-table" },
        h("caption", { class: "visually-hidden" }, "Hosts of this cluster"),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", { scope: "col" }, "Host"),
            h("th", { scope: "col" }, "Status"),
            h("th", { scope: "col", class: "num" }, "VMs"),
            h("th", { scope: "col", class: "col-bar" }, "CPU (vCPU / cores)"),
            h("th", { scope: "col", class: "col-bar" }, "Memory (assigned / total)"),
            h("th", { scope: "col", class: "col-refresh" }, "Last refresh"),
          ),
        ),
        hostBody,
      ),
    ),
  );
  const table = vmTable({ ctx, router, search: query, fixed: { cluster: name }, label: `VMs in ${name}` });
  const vmsPanel = panel("Virtual machines", { id: "cluster-vms" }, table.node);
  hostsPanel.hidden = true;
  vmsPanel.hidden = true;
  replace(container, h("div", { class: "cluster-page" }, top, hostsPanel, vmsPanel));
  setTitle(name);
  replace(top, loading("Loading the cluster…"));

  async function load() {
    controller?.abort();
    controller = new AbortController();
    try {
      cluster = await get(`/clusters/${segment(name)}`, { signal: controller.signal });
      render();
    } catch (error) {
      if (error && error.name === "AbortError") return;
      if (error instanceof ApiError && error.status === 404) {
        setTitle("Cluster not found");
        replace(top, 
          pageHeader({ crumbs: [["Overview", "/"], ["Not found", null]], title: "Cluster not found" }),
          alert("warn", "No cluster has this name", h("p", { class: "mono" }, name), h("p", {}, h("a", { href: "/" }, "See every cluster"), ".")),
        );
        return;
      }
      replace(top, pageHeader({ crumbs: [["Overview", "/"]], title: name }), errorBox(error, load));
    }
  }

  function renderHosts() {
    const hosts = store.hostList(name);
    keyedRows(
      hostBody,
      hosts,
      (host) => host.name,
      (host) => host.revision,
      (host) =>
        h(
          "tr",
          { class: host.status === "unreachable" ? "row-bad" : null },
          h("td", {}, h("a", { href: `/hosts/${segment(host.name)}`, title: host.name }, fmt.shortHost(host.name))),
          h("td", {}, hostBadge(host.status), host.status === "unreachable" && host.status_reason ? h("div", { class: "reason muted" }, host.status_reason) : null),
          h("td", { class: "num" }, fmt.count(host.vm_count)),
          h("td", { class: "col-bar" }, cpuBar(host.capacity, { compact: true })),
          h("td", { class: "col-bar" }, memoryBar(host.capacity, { compact: true })),
          h("td", { class: "col-refresh nowrap" }, host.status === "unreachable" ? ageText(host.last_seen, { prefix: "seen " }) : ageText(host.last_refresh)),
        ),
    );
  }

  function render() {
    setTitle(cluster.name);
    hostsPanel.hidden = false;
    vmsPanel.hidden = false;
    const degraded = cluster.reachable_hosts < cluster.host_count;
    const badge = h("span", { class: ["badge", degraded ? "tone-bad" : "tone-ok"] }, h("span", { class: "badge-dot", "aria-hidden": "true" }), `${cluster.reachable_hosts} of ${cluster.host_count} hosts reachable`);
    replace(top, 
      pageHeader({ crumbs: [["Overview", "/"], [cluster.name, null]], title: cluster.name, kicker: "Failover cluster", badges: [badge] }),
      degraded ? alert("bad", `${fmt.plural(cluster.host_count - cluster.reachable_hosts, "host")} of this cluster cannot be reached`, h("p", {}, "Their VMs show the last known data.")) : null,
      h(
        "div",
        { class: "grid-2" },
        panel(
          "Cluster",
          { id: "cluster-facts" },
          facts([
            ["Hosts", `${fmt.count(cluster.host_count)} (${fmt.count(cluster.reachable_hosts)} reachable)`],
            ["VMs", fmt.count(cluster.vm_count)],
            ["Logical processors", fmt.count(cluster.capacity.cpu_cores)],
            ["vCPU configured", fmt.count(cluster.capacity.vcpus_configured)],
            ["Memory", `${fmt.bytes(cluster.capacity.memory_total_bytes)} (${fmt.bytes(cluster.capacity.memory_available_bytes)} available)`],
          ]),
        ),
        panel("Capacity", { id: "cluster-capacity" }, h("div", { class: "capacity-grid" }, cpuBar(cluster.capacity), memoryBar(cluster.capacity))),
      ),
    );
    renderHosts();
  }

  const rerender = throttle(() => cluster && render(), 500);
  const onStore = (event) => {
    const { reason } = event.detail;
    if (reason === "cluster" && event.detail.name === name) {
      const next = store.clusters.get(name);
      if (next && cluster && next.revision >= cluster.revision) {
        cluster = next;
        rerender();
      } else if (!next) load();
    } else if (reason === "host" && cluster) {
      renderHosts();
    } else if (reason === "resync" || reason === "summary") {
      if (cluster) renderHosts();
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
