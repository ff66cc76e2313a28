// The fleet overview (`/`): hosts by status, VMs by state, clusters; CPU and memory
// assigned against what the hosts have, for the fleet, each cluster and each host; the
// refresh status (last cycle, overrun, slow hosts); unreachable hosts first, with their
// reason and how long ago they were last seen. Everything follows the store live.

import { h, replace, throttle, keyedRows } from "../dom.js";
import * as fmt from "../format.js";
import { segment } from "../api.js";
import { setTitle } from "../router.js";
import {
  hostBadge,
  cpuBar,
  memoryBar,
  panel,
  facts,
  ageText,
  errorBox,
  empty,
  loading,
  alert,
  pageHeader,
  scrollBox,
} from "../components/common.js";

const SLOW_SHOWN = 8;

const STATE_GROUPS = [
  { key: "running", states: ["running"], tone: "ok" },
  { key: "off", states: ["off"], tone: "neutral" },
  { key: "saved", states: ["saved"], tone: "violet" },
  { key: "paused", states: ["paused"], tone: "warn" },
  { key: "changing", label: "Changing", states: ["starting", "stopping", "saving", "pausing", "resuming", "resetting", "creating", "deleting"], tone: "info" },
  { key: "other", states: ["other"], tone: "neutral" },
];

function stackedBar(parts, total, label) {
  const bar = h("div", { class: "stack", role: "img", "aria-label": label });
  for (const part of parts) {
    if (!part.value) continue;
    const seg = h("span", { class: ["stack-seg", `tone-fill-${part.tone}`], title: `${part.label}: ${fmt.count(part.value)}` });
    seg.style.width = `${(part.value / total) * 100}%`;
    bar.append(seg);
  }
  return bar;
}

function legend(parts) {
  return h(
    "ul",
    { class: "legend" },
    parts.map((part) =>
      h(
        "li",
        {},
        part.href
          ? h("a", { href: part.href }, h("span", { class: ["dot", `tone-${part.tone}`], "aria-hidden": "true" }), part.label, h("strong", {}, fmt.count(part.value)))
          : [h("span", { class: ["dot", `tone-${part.tone}`], "aria-hidden": "true" }), part.label, h("strong", {}, fmt.count(part.value))],
      ),
    ),
  );
}

function tile(title, value, detail, extra = null) {
  return h("div", { class: "tile" }, h("p", { class: "tile-title" }, title), h("p", { class: "tile-value" }, value), h("div", { class: "tile-detail" }, detail), extra);
}

export function mount(container, { ctx }) {
  const { store } = ctx;
  setTitle("Overview");
  const header = pageHeader({ title: "Fleet overview" });
  const sub = h("p", { class: "page-sub muted" });
  header.append(sub);
  const notices = h("div", { class: "notices" });
  const tiles = h("div", { class: "tiles" });
  const unreachable = h("div");
  const capacity = h("div", { class: "capacity-grid" });
  const clusterBody = h("tbody");
  const hostBody = h("tbody");
  const refreshFacts = h("div");
  const body = h("div", { class: "overview" });
  replace(container, header, body);

  const clustersPanel = panel(
    "Clusters",
    { id: "clusters" },
    scrollBox("Clusters",
      h(
        "table",
        { class: "data-table" },
        h("caption", { class: "visually-hidden" }, "Clusters with their capacity"),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Cluster"), h("th", { scope: "col", class: "num" }, "Hosts"), h("th", { scope: "col", class: "num" }, "VMs"), h("th", { scope: "col", class: "col-bar" }, "CPU (vCPU / cores)"), h("th", { scope: "col", class: "col-bar" }, "Memory (assigned / total)"))),
        clusterBody,
      ),
    ),
  );
  const hostsPanel = panel(
    "Hosts",
    { id: "hosts" },
    scrollBox("Hosts",
      h(
        "table",
        { class: "data-table fixed-table hosts-table" },
        h("caption", { class: "visually-hidden" }, "Hosts with their status and capacity"),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", { scope: "col" }, "Host"),
            h("th", { scope: "col" }, "Status"),
            h("th", { scope: "col", class: "col-cluster" }, "Cluster"),
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

  function renderHeader() {
    const refresh = store.refresh;
    const parts = [];
    if (refresh?.interval_seconds) parts.push(`Refreshed every ${fmt.seconds(refresh.interval_seconds)}`);
    if (refresh?.last_cycle_seconds !== null && refresh?.last_cycle_seconds !== undefined) parts.push(`last cycle ${fmt.seconds(refresh.last_cycle_seconds)}`);
    parts.push(`revision ${store.revision}`);
    sub.textContent = parts.join(" · ");
  }

  function renderNotices() {
    const items = [];
    const refresh = store.refresh || {};
    if (store.counts && store.counts.hosts === 0) {
      items.push(alert("info", "No hosts are configured", h("p", {}, "Add hosts to the remote-tasks service's fleet file; they appear here after their first refresh.")));
    }
    if (!refresh.initial_refresh_done && store.counts?.hosts) {
      items.push(alert("info", "The first refresh is still running", h("p", {}, "Hosts show as unknown until inventory has heard from them.")));
    }
    if (refresh.overrun) {
      items.push(
        alert(
          "warn",
          "The refresh cycle cannot keep up",
          h("p", {}, `The last cycle took ${fmt.seconds(refresh.last_cycle_seconds)} for an interval of ${fmt.seconds(refresh.interval_seconds)}: data is older than the interval says.`),
        ),
      );
    }
    if (refresh.slow_hosts?.length) {
      items.push(
        alert(
          "warn",
          `${fmt.plural(refresh.slow_hosts.length, "slow host")}`,
          h(
            "p",
            {},
            "These hosts take much longer to refresh than the others: ",
            refresh.slow_hosts.slice(0, SLOW_SHOWN).map((name, i) => [i ? ", " : "", h("a", { href: `/hosts/${segment(name)}` }, fmt.shortHost(name))]),
            refresh.slow_hosts.length > SLOW_SHOWN ? ` and ${fmt.count(refresh.slow_hosts.length - SLOW_SHOWN)} more (marked “slow” in the hosts table).` : ".",
          ),
        ),
      );
    }
    replace(notices, ...items);
  }

  function renderTiles() {
    const counts = store.counts;
    if (!counts) return;
    const byStatus = counts.hosts_by_status || {};
    const hostParts = [
      { label: "Reachable", value: byStatus.reachable || 0, tone: "ok" },
      { label: "Unreachable", value: byStatus.unreachable || 0, tone: "bad", href: byStatus.unreachable ? "#unreachable" : null },
      { label: "Unknown", value: byStatus.unknown || 0, tone: "neutral" },
    ];
    const byState = counts.vms_by_state || {};
    const vmParts = STATE_GROUPS.map((group) => ({
      label: group.label || fmt.stateLabel(group.key),
      value: group.states.reduce((sum, state) => sum + (byState[state] || 0), 0),
      tone: group.tone,
      href: `/vms?state=${group.states.join(",")}`,
    }));
    const cap = store.capacity || {};
    const cpuRatio = cap.cpu_cores ? (cap.vcpus_assigned / cap.cpu_cores).toFixed(2) : "—";
    replace(tiles, 
      tile(
        "Hosts",
        fmt.count(counts.hosts),
        [stackedBar(hostParts, counts.hosts || 1, `Hosts: ${hostParts.map((p) => `${p.value} ${p.label.toLowerCase()}`).join(", ")}`), legend(hostParts)],
      ),
      tile(
        "Virtual machines",
        fmt.count(counts.vms),
        [stackedBar(vmParts, counts.vms || 1, `VMs: ${vmParts.filter((p) => p.value).map((p) => `${p.value} ${p.label.toLowerCase()}`).join(", ")}`), legend(vmParts.filter((p) => p.value || ["running", "off"].includes(p.label.toLowerCase())))],
        counts.stale_vms ? h("p", { class: "tile-note tone-text-warn" }, `${fmt.count(counts.stale_vms)} stale (host unreachable)`) : null,
      ),
      tile(
        "Clusters",
        fmt.count(counts.clusters),
        h("p", { class: "muted" }, `${fmt.plural(counts.hosts - counts.standalone_hosts, "clustered host")} · ${fmt.plural(counts.standalone_hosts, "standalone host")}`),
      ),
      tile(
        "vCPU : core",
        cpuRatio === "—" ? "—" : `${cpuRatio} : 1`,
        h("p", { class: "muted" }, `${fmt.count(cap.vcpus_assigned)} vCPU running on ${fmt.count(cap.cpu_cores)} logical processors`),
      ),
    );
  }

  function renderUnreachable() {
    const hosts = store.unreachableHosts();
    if (!hosts.length) {
      unreachable.replaceChildren();
      return;
    }
    replace(unreachable, 
      panel(
        `Unreachable hosts (${fmt.count(hosts.length)})`,
        { id: "unreachable", className: "panel-bad" },
        scrollBox("Unreachable hosts",
          h(
            "table",
            { class: "data-table" },
            h("caption", { class: "visually-hidden" }, "Unreachable hosts, longest unseen first"),
            h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Host"), h("th", { scope: "col" }, "Reason"), h("th", { scope: "col" }, "Last seen"), h("th", { scope: "col", class: "num" }, "VMs (stale)"))),
            h(
              "tbody",
              {},
              hosts.map((host) =>
                h(
                  "tr",
                  {},
                  h("td", {}, h("a", { href: `/hosts/${segment(host.name)}` }, host.name)),
                  h("td", { class: "reason" }, host.status_reason || h("span", { class: "muted" }, "no reason given")),
                  h("td", { class: "nowrap" }, ageText(host.last_seen)),
                  h("td", { class: "num" }, fmt.count(host.vm_count)),
                ),
              ),
            ),
          ),
        ),
      ),
    );
  }

  function renderCapacity() {
    const cap = store.capacity;
    replace(capacity, cpuBar(cap), memoryBar(cap));
  }

  function renderClusters() {
    const clusters = store.clusterList();
    if (!clusters.length) {
      replace(clusterBody, h("tr", {}, h("td", { colspan: 5, class: "muted" }, "No failover clusters: every host is standalone.")));
      return;
    }
    keyedRows(
      clusterBody,
      clusters,
      (cluster) => cluster.name,
      (cluster) => cluster.revision,
      (cluster) =>
        h(
          "tr",
          {},
          h("td", {}, h("a", { href: `/clusters/${segment(cluster.name)}` }, cluster.name)),
          h("td", { class: ["num", cluster.reachable_hosts < cluster.host_count && "tone-text-bad"] }, `${fmt.count(cluster.reachable_hosts)} / ${fmt.count(cluster.host_count)}`),
          h("td", { class: "num" }, fmt.count(cluster.vm_count)),
          h("td", { class: "col-bar" }, cpuBar(cluster.capacity, { compact: true })),
          h("td", { class: "col-bar" }, memoryBar(cluster.capacity, { compact: true })),
        ),
    );
  }

  function renderHosts() {
    const hosts = store.hostList();
    if (!hosts.length) {
      replace(hostBody, h("tr", {}, h("td", { colspan: 7 }, empty("No hosts yet."))));
      return;
    }
    hosts.sort((a, b) => (a.cluster || "~").localeCompare(b.cluster || "~") || a.name.localeCompare(b.name));
    keyedRows(
      hostBody,
      hosts,
      (host) => host.name,
      (host) => `${host.revision}`,
      (host) =>
        h(
          "tr",
          { class: host.status === "unreachable" ? "row-bad" : null },
          h("td", {}, h("a", { href: `/hosts/${segment(host.name)}`, title: host.name }, fmt.shortHost(host.name)), host.slow ? [" ", h("span", { class: "tag tone-warn", title: "Refreshes much slower than the other hosts" }, "slow")] : null),
          h("td", {}, hostBadge(host.status)),
          h("td", { class: "col-cluster" }, host.cluster ? h("a", { href: `/clusters/${segment(host.cluster)}` }, host.cluster) : h("span", { class: "muted" }, "standalone")),
          h("td", { class: "num" }, fmt.count(host.vm_count)),
          h("td", { class: "col-bar" }, cpuBar(host.capacity, { compact: true })),
          h("td", { class: "col-bar" }, memoryBar(host.capacity, { compact: true })),
          h(
            "td",
            { class: "col-refresh nowrap" },
            host.status === "unreachable" ? ageText(host.last_seen, { prefix: "seen " }) : ageText(host.last_refresh),
            host.status !== "unreachable" && host.last_refresh_duration_seconds !== null && host.last_refresh_duration_seconds !== undefined
              ? h("span", { class: "muted", title: "How long the last refresh took" }, ` · ${fmt.seconds(host.last_refresh_duration_seconds)}`)
              : null,
          ),
        ),
    );
  }

  function renderRefresh() {
    const refresh = store.refresh || {};
    replace(refreshFacts, 
      facts([
        ["Interval", refresh.interval_seconds ? fmt.seconds(refresh.interval_seconds) : null],
        ["Last cycle", refresh.last_cycle_seconds !== null && refresh.last_cycle_seconds !== undefined ? fmt.seconds(refresh.last_cycle_seconds) : null],
        ["Average per host", refresh.average_host_refresh_seconds !== null && refresh.average_host_refresh_seconds !== undefined ? fmt.seconds(refresh.average_host_refresh_seconds) : null],
        ["Keeping up", refresh.overrun ? h("span", { class: "tone-text-warn" }, "No — the cycle overruns its interval") : "Yes"],
        ["First refresh", refresh.initial_refresh_done ? "Done" : "Running…"],
        ["Slow hosts", refresh.slow_hosts?.length ? fmt.count(refresh.slow_hosts.length) : "None"],
      ]),
    );
  }

  let built = false;
  function render() {
    if (!store.loaded) {
      replace(body, store.error ? errorBox(store.error, () => ctx.reloadStore(), "Could not load the fleet (retrying on its own)") : loading("Loading the fleet…"));
      built = false;
      return;
    }
    if (!built) {
      replace(body, 
        notices,
        tiles,
        unreachable,
        h(
          "div",
          { class: "grid-2" },
          panel("Fleet capacity", { id: "capacity" }, capacity, h("p", { class: "panel-note muted" }, "CPU: vCPUs of running VMs against logical processors. Memory: assigned to VMs, used by the hosts, and free.")),
          panel("Inventory refresh", { id: "refresh" }, refreshFacts),
        ),
        clustersPanel,
        hostsPanel,
      );
      built = true;
    }
    renderHeader();
    renderNotices();
    renderTiles();
    renderUnreachable();
    renderCapacity();
    renderClusters();
    renderHosts();
    renderRefresh();
  }

  // Host events arrive all the time in a large fleet (every host, every cycle): re-render at
  // most twice a second, once every 2 s past 200 hosts.
  const soon = throttle(render, () => (store.hosts.size > 200 ? 2000 : 500));
  store.addEventListener("change", soon);
  render();
  return {
    unmount() {
      soon.cancel();
      store.removeEventListener("change", soon);
    },
  };
}

