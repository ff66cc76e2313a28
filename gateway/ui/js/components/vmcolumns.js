// The VM table's columns: header, the REST sort field behind it, and how a cell renders.
// A host's page leaves out Host and Cluster, a cluster's page leaves out Cluster.

import { segment } from "../api.js";
import { h } from "../dom.js";
import * as fmt from "../format.js";
import { stateBadge, staleTag } from "./common.js";

/** The columns: key, header, sort field (null = not sortable), class, render. */
export function columns(fixed) {
  return [
    { key: "name", label: "Name", sort: "name", render: (vm) => nameCell(vm) },
    { key: "state", label: "State", sort: "state", render: (vm) => stateBadge(vm.state) },
    !fixed.host && {
      key: "host",
      label: "Host",
      sort: "host",
      className: "col-host",
      render: (vm) => h("a", { href: `/hosts/${segment(vm.host)}`, title: vm.host }, fmt.shortHost(vm.host)),
    },
    !fixed.host &&
      !fixed.cluster && {
        key: "cluster",
        label: "Cluster",
        sort: "cluster",
        className: "col-cluster",
        render: (vm) => (vm.cluster ? h("a", { href: `/clusters/${segment(vm.cluster)}` }, vm.cluster) : h("span", { class: "muted" }, "standalone")),
      },
    { key: "cpu", label: "vCPU", sort: "cpu_count", className: "num", render: (vm) => fmt.count(vm.cpu_count) },
    { key: "memory", label: "Memory", sort: "memory_assigned", className: "num", render: (vm) => memoryCell(vm) },
    { key: "ip", label: "IP addresses", sort: "primary_ip", className: "col-ip", render: (vm) => ipCell(vm) },
    { key: "os", label: "OS", sort: null, className: "col-os", render: (vm) => osCell(vm) },
  ].filter(Boolean);
}

function nameCell(vm) {
  return [h("a", { href: `/vms/${segment(vm.id)}`, class: "row-link" }, vm.name), vm.stale ? [" ", staleTag()] : null];
}

function memoryCell(vm) {
  if (vm.memory_assigned_bytes > 0) return h("span", { title: "Assigned now" }, fmt.bytes(vm.memory_assigned_bytes));
  return h("span", { class: "muted", title: "Startup memory (not running)" }, fmt.bytes(vm.memory_startup_bytes));
}

function ipCell(vm) {
  const ips = vm.ip_addresses || [];
  if (!ips.length) return h("span", { class: "muted" }, "—");
  const primary = vm.primary_ip || ips[0];
  const more = ips.length - 1;
  return h("span", { class: "mono", title: ips.join("\n") }, primary, more > 0 ? h("span", { class: "muted" }, ` +${more}`) : null);
}

function osCell(vm) {
  if (vm.os_name) return h("span", { class: "truncate os-name", title: vm.os_name }, vm.os_name);
  return h("span", { class: "muted" }, vm.os_family === "unknown" ? "—" : fmt.osFamilyLabel(vm.os_family));
}
