// The fleet as the UI knows it: the inventory summary (counts, capacity, refresh status),
// every cluster and host, kept current from the `inventory` topic. VMs are NOT held here
// (a fleet has tens of thousands): views fetch the pages they show and patch them from the
// `vm` events this store re-emits. Events:
//   change   — hosts, clusters or the summary changed (detail: {reason})
//   vm       — a VM record arrived (detail: Vm)
//   vm-deleted — detail: {id, host}
//   resync   — events were lost; views reload what they show (the store already reloaded)
// Upserts older than what is held (by `revision`) are ignored, so a REST read and a replay
// that overlap never move a record backwards.

import { get } from "./api.js";
import { throttle } from "./dom.js";

// VM counts by state come only with the summary (GET /api/v1/inventory), which also carries
// every host: after VM events it is re-read at most every 3 s, stretched to 10 ms per host
// (10 s at 1,000 hosts) so a large, busy fleet does not re-download megabytes each second.
const SUMMARY_REFRESH_MS = 3000;
const SUMMARY_MS_PER_HOST = 10;

export class FleetStore extends EventTarget {
  constructor() {
    super();
    this.loaded = false;
    this.revision = 0;
    this.counts = null;
    this.capacity = null;
    this.refresh = null;
    this.hosts = new Map();
    this.clusters = new Map();
    this.error = null;
    this.subscription = null;
    this.pendingSummary = false;
    this.summaryThrottle = throttle(() => this.reloadSummary(), () => Math.max(SUMMARY_REFRESH_MS, this.hosts.size * SUMMARY_MS_PER_HOST));
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden && this.pendingSummary) this.summaryThrottle();
    });
  }

  /** Loads the summary (GET /api/v1/inventory). Throws ApiError. */
  async load() {
    const summary = await get("/inventory");
    this.applySummary(summary, true);
    this.loaded = true;
    this.error = null;
    return summary;
  }

  /** Subscribes to `inventory` on `live`, resuming after the loaded revision. */
  attach(live) {
    if (this.subscription) return;
    this.subscription = live.topic(
      "inventory",
      {
        event: (frame) => this.applyEvent(frame),
        resync: () => this.resync(),
      },
      this.loaded ? this.revision : null,
    );
  }

  async resync() {
    try {
      await this.load();
    } catch (error) {
      this.error = error;
    }
    this.emit("change", { reason: "resync" });
    this.emit("resync", {});
  }

  async reloadSummary() {
    if (document.hidden) {
      this.pendingSummary = true;
      return;
    }
    this.pendingSummary = false;
    try {
      const summary = await get("/inventory");
      this.applySummary(summary, false);
      this.emit("change", { reason: "summary" });
    } catch (error) {
      this.error = error;
    }
  }

  applySummary(summary, replace) {
    this.revision = Math.max(this.revision, summary.revision || 0);
    this.counts = summary.counts;
    this.capacity = summary.capacity;
    this.refresh = summary.refresh;
    const hostNames = new Set();
    for (const host of summary.hosts || []) {
      hostNames.add(host.name);
      const held = this.hosts.get(host.name);
      if (!held || held.revision <= host.revision) this.hosts.set(host.name, host);
    }
    const clusterNames = new Set();
    for (const cluster of summary.clusters || []) {
      clusterNames.add(cluster.name);
      const held = this.clusters.get(cluster.name);
      if (!held || held.revision <= cluster.revision) this.clusters.set(cluster.name, cluster);
    }
    if (replace) {
      for (const name of [...this.hosts.keys()]) if (!hostNames.has(name)) this.hosts.delete(name);
      for (const name of [...this.clusters.keys()]) if (!clusterNames.has(name)) this.clusters.delete(name);
    }
  }

  applyEvent(frame) {
    const data = frame.data || {};
    if (frame.revision > this.revision) this.revision = frame.revision;
    switch (frame.kind) {
      case "host_upserted": {
        const held = this.hosts.get(data.name);
        if (held && held.revision > data.revision) return;
        this.hosts.set(data.name, data);
        this.recountHosts();
        this.emit("change", { reason: "host", name: data.name });
        break;
      }
      case "host_deleted":
        this.hosts.delete(data.name);
        this.recountHosts();
        this.emit("change", { reason: "host", name: data.name });
        this.summaryThrottle();
        break;
      case "cluster_upserted": {
        const held = this.clusters.get(data.name);
        if (held && held.revision > data.revision) return;
        this.clusters.set(data.name, data);
        this.emit("change", { reason: "cluster", name: data.name });
        break;
      }
      case "cluster_deleted":
        this.clusters.delete(data.name);
        this.emit("change", { reason: "cluster", name: data.name });
        break;
      case "vm_upserted":
        this.emit("vm", data);
        this.summaryThrottle();
        break;
      case "vm_deleted":
        this.emit("vm-deleted", data);
        this.summaryThrottle();
        break;
      default:
        break;
    }
  }

  /** Host counts and fleet capacity follow host events at once (VM counts by state follow the summary). */
  recountHosts() {
    if (!this.counts) return;
    const byStatus = { reachable: 0, unreachable: 0, unknown: 0 };
    let standalone = 0;
    const capacity = { cpu_cores: 0, vcpus_assigned: 0, vcpus_configured: 0, memory_total_bytes: 0, memory_available_bytes: 0, memory_assigned_bytes: 0 };
    for (const host of this.hosts.values()) {
      byStatus[host.status] = (byStatus[host.status] || 0) + 1;
      if (!host.cluster) standalone += 1;
      for (const key of Object.keys(capacity)) capacity[key] += host.capacity?.[key] || 0;
    }
    this.counts = { ...this.counts, hosts: this.hosts.size, hosts_by_status: byStatus, standalone_hosts: standalone };
    this.capacity = capacity;
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /** Hosts sorted by name, optionally only those of `cluster` (`"-"`: standalone). */
  hostList(cluster) {
    const hosts = [...this.hosts.values()];
    const selected = cluster === undefined ? hosts : hosts.filter((host) => (cluster === "-" ? !host.cluster : host.cluster === cluster));
    return selected.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Clusters sorted by name. */
  clusterList() {
    return [...this.clusters.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Unreachable hosts, longest unseen first. */
  unreachableHosts() {
    return [...this.hosts.values()]
      .filter((host) => host.status === "unreachable")
      .sort((a, b) => (Date.parse(a.last_seen || 0) || 0) - (Date.parse(b.last_seen || 0) || 0));
  }
}
