// The VM page (`/vms/{id}`): state, power actions, settings (CPU, memory, generation,
// version, notes, OS, creation time, uptime), disks, network adapters and IPs, links to
// its host and cluster, and the VM's recent jobs. Every change is a job started from here:
// power actions, Settings and Delete (vmedit.js), adding, growing and removing disks and
// adding, changing and removing network adapters (devices.js). Follows the VM's live
// events; says so when the data is stale (its host is unreachable) or the VM has gone.

import { get, segment, ApiError } from "../api.js";
import { h, replace, icon, throttle } from "../dom.js";
import * as fmt from "../format.js";
import { setTitle } from "../router.js";
import {
  stateBadge,
  staleTag,
  panel,
  facts,
  ageText,
  timeText,
  uptimeText,
  errorBox,
  loading,
  empty,
  alert,
  pageHeader,
  scrollBox,
} from "../components/common.js";
import { powerBar } from "../components/power.js";
import { editVm, deleteVm, guarded } from "../components/vmedit.js";
import { addDisk, growDisk, removeDisk, addNic, changeNic, removeNic } from "../components/devices.js";
import { jobsTable, startDurationTicker } from "../components/jobui.js";
import * as jobs from "../jobs.js";

const RECENT_JOBS = 5;

/** A small button of a table row ("Grow", "Remove"). */
function rowButton(label, action, { danger = false, name } = {}) {
  return h("button", { type: "button", class: ["button", "button-small", danger && "button-quiet-danger"], "aria-label": `${label} ${name}`, on: { click: action } }, label);
}

function ipList(ips) {
  if (!ips || !ips.length) return null;
  return h("ul", { class: "plain-list mono" }, ips.map((ip) => h("li", {}, ip)));
}

function disksTable(disks, actions) {
  if (!disks.length) return empty("No virtual disks attached.");
  return scrollBox("Virtual disks",
    h(
      "table",
      { class: "data-table" },
      h("caption", { class: "visually-hidden" }, "Virtual disks"),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", { scope: "col" }, "Disk"),
          h("th", { scope: "col" }, "Type"),
          h("th", { scope: "col", class: "num" }, "Capacity"),
          h("th", { scope: "col", class: "num" }, "File size"),
          h("th", { scope: "col" }, "Controller"),
          h("th", { scope: "col", class: "col-path" }, "Path"),
          actions ? h("th", { scope: "col", class: "col-actions" }, h("span", { class: "visually-hidden" }, "Actions")) : null,
        ),
      ),
      h(
        "tbody",
        {},
        disks.map((disk) =>
          h(
            "tr",
            {},
            h("td", {}, disk.name),
            h("td", {}, disk.type === "unknown" ? h("span", { class: "muted" }, "—") : disk.type[0].toUpperCase() + disk.type.slice(1)),
            h("td", { class: "num" }, fmt.bytes(disk.capacity_bytes)),
            h("td", { class: "num" }, fmt.bytes(disk.file_size_bytes), h("span", { class: "muted" }, ` (${fmt.percent(disk.file_size_bytes, disk.capacity_bytes)})`)),
            h("td", { class: "nowrap" }, `${disk.controller_type === "unknown" ? "?" : disk.controller_type.toUpperCase()} ${disk.controller_number}:${disk.controller_location}`),
            h("td", { class: "col-path mono", title: disk.path }, h("span", { class: "path" }, disk.path)),
            actions
              ? h(
                  "td",
                  { class: "col-actions" },
                  h("div", { class: "row-actions" }, rowButton("Grow", () => actions.grow(disk), { name: disk.name }), rowButton("Remove", () => actions.remove(disk), { danger: true, name: disk.name })),
                )
              : null,
          ),
        ),
      ),
    ),
  );
}

function nicsTable(nics, actions) {
  if (!nics.length) return empty("No network adapters.");
  return scrollBox("Network adapters",
    h(
      "table",
      { class: "data-table" },
      h("caption", { class: "visually-hidden" }, "Network adapters"),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", { scope: "col" }, "Adapter"),
          h("th", { scope: "col" }, "Network"),
          h("th", { scope: "col" }, "Switch"),
          h("th", { scope: "col", class: "num" }, "VLAN"),
          h("th", { scope: "col" }, "MAC address"),
          h("th", { scope: "col" }, "IP addresses"),
          actions ? h("th", { scope: "col", class: "col-actions" }, h("span", { class: "visually-hidden" }, "Actions")) : null,
        ),
      ),
      h(
        "tbody",
        {},
        nics.map((nic) =>
          h(
            "tr",
            {},
            h("td", {}, nic.name),
            h("td", {}, nic.network_name || h("span", { class: "muted" }, "—")),
            h("td", {}, nic.switch_name || h("span", { class: "muted" }, "not connected")),
            h("td", { class: "num" }, nic.vlan_id === null || nic.vlan_id === undefined ? h("span", { class: "muted" }, "untagged") : String(nic.vlan_id)),
            h("td", { class: "mono nowrap" }, fmt.mac(nic.mac_address)),
            h("td", {}, ipList(nic.ip_addresses) || h("span", { class: "muted" }, "—")),
            actions
              ? h(
                  "td",
                  { class: "col-actions" },
                  h("div", { class: "row-actions" }, rowButton("Change", () => actions.change(nic), { name: nic.name }), rowButton("Remove", () => actions.remove(nic), { danger: true, name: nic.name })),
                )
              : null,
          ),
        ),
      ),
    ),
  );
}

export function mount(container, { params, ctx }) {
  const { store, jobs: feed } = ctx;
  const id = (params[0] || "").toLowerCase();
  let vm = null;
  let power = null;
  let gone = false;
  let controller = null;
  let recent = [];
  let jobsController = null;
  const root = h("div", { class: "vm-page" });
  const recentTable = jobsTable({ caption: "Recent jobs of this VM", fixed: { host: true } });
  const recentStatus = h("div");
  replace(container, root);
  setTitle("Virtual machine");
  replace(root, loading("Loading the VM…"));
  startDurationTicker();

  async function load() {
    controller?.abort();
    controller = new AbortController();
    try {
      vm = await get(`/vms/${segment(id)}`, { signal: controller.signal });
      gone = false;
      power?.destroy();
      power = null;
      render();
      loadJobs();
    } catch (error) {
      if (error && error.name === "AbortError") return;
      if (error instanceof ApiError && error.status === 404) {
        setTitle("VM not found");
        replace(root, 
          pageHeader({ crumbs: [["Overview", "/"], ["Virtual machines", "/vms"], ["Not found", null]], title: "VM not found" }),
          alert("warn", "There is no VM with this id", h("p", { class: "mono" }, id), h("p", {}, "It may have been deleted, or the link is wrong. ", h("a", { href: "/vms" }, "Browse all VMs"), ".")),
        );
        return;
      }
      replace(root, pageHeader({ crumbs: [["Overview", "/"], ["Virtual machines", "/vms"]], title: "Virtual machine" }), errorBox(error, load));
    }
  }

  async function loadJobs() {
    jobsController?.abort();
    jobsController = new AbortController();
    try {
      const page = await get("/jobs", { params: { vm_id: id, page_size: RECENT_JOBS }, signal: jobsController.signal });
      recent = page.jobs || [];
      recentTable.render(recent);
      replace(recentStatus, recent.length ? null : empty("No jobs for this VM yet.", "Power actions and changes made here appear with their progress."));
      recentTable.node.hidden = !recent.length;
    } catch (error) {
      if (error && error.name === "AbortError") return;
      replace(recentStatus, errorBox(error, loadJobs, "Could not load this VM's jobs"));
      recentTable.node.hidden = true;
    }
  }
  const reloadJobs = throttle(() => loadJobs(), 1000);
  const patchJobs = throttle(() => recentTable.render(recent), 250);

  /** Runs a change dialog; the job it queues shows in Recent jobs and in a toast. */
  const change = (what, open) => async () => {
    if (!vm || gone) return;
    await guarded(what, open);
  };

  function render() {
    setTitle(vm.name);
    const host = store.hosts.get(vm.host);
    const crumbs = [["Overview", "/"]];
    if (vm.cluster) crumbs.push([vm.cluster, `/clusters/${segment(vm.cluster)}`]);
    crumbs.push([fmt.shortHost(vm.host), `/hosts/${segment(vm.host)}`], [vm.name, null]);
    if (!power) power = powerBar(vm, { feed });
    else power.update(vm);
    const locked = vm.stale || gone || vm.state === "deleting" || vm.state === "creating";
    const lockedWhy = gone ? "The VM no longer exists" : vm.stale ? "The host is unreachable" : `Not while the VM is ${fmt.stateLabel(vm.state).toLowerCase()}`;
    const manage = h(
      "div",
      { class: "button-group", role: "group", "aria-label": "Manage" },
      h("button", { type: "button", class: "button", id: "vm-edit", disabled: locked, title: locked ? lockedWhy : "", on: { click: change("the settings", () => editVm(vm, store.hosts.get(vm.host))) } }, icon("edit", 14), "Settings"),
      h("button", { type: "button", class: "button button-quiet-danger", id: "vm-delete", disabled: locked, title: locked ? lockedWhy : "", on: { click: change("the delete dialog", () => deleteVm(vm)) } }, icon("trash", 14), "Delete"),
    );
    const badges = [stateBadge(vm.state)];
    if (vm.stale) badges.push(staleTag());
    const header = pageHeader({
      crumbs,
      title: vm.name,
      kicker: "Virtual machine",
      badges,
      actions: h("div", { class: "vm-actions" }, power.node, manage),
      sub: h(
        "p",
        { class: "muted" },
        "on ",
        h("a", { href: `/hosts/${segment(vm.host)}` }, vm.host),
        vm.cluster ? [" in cluster ", h("a", { href: `/clusters/${segment(vm.cluster)}` }, vm.cluster)] : " (standalone host)",
      ),
    });

    const notices = [];
    if (gone) {
      notices.push(alert("bad", "This VM no longer exists", h("p", {}, "Inventory reported it removed from its host. What you see is its last known state.")));
    }
    if (vm.stale) {
      notices.push(
        alert(
          "warn",
          `${fmt.shortHost(vm.host)} is unreachable — this is the last known data`,
          h("p", {}, host?.status_reason ? `Reason: ${host.status_reason}. ` : "", "Last observed ", ageText(vm.observed_at), ". Power actions are unavailable until the host answers again."),
        ),
      );
    }

    const running = vm.state === "running" || vm.state === "paused";
    const summary = panel(
      "Summary",
      { id: "vm-summary" },
      facts([
        ["State", stateBadge(vm.state)],
        ["Uptime", uptimeText(vm.uptime_seconds, running)],
        ["Operating system", vm.os_name || (vm.os_family !== "unknown" ? fmt.osFamilyLabel(vm.os_family) : null)],
        ["IP addresses", ipList(vm.ip_addresses)],
        ["Host", h("a", { href: `/hosts/${segment(vm.host)}` }, vm.host)],
        ["Cluster", vm.cluster ? h("a", { href: `/clusters/${segment(vm.cluster)}` }, vm.cluster) : "Standalone host"],
        ["Clustered role", vm.clustered ? "Yes (highly available)" : "No"],
        ["Created", timeText(vm.creation_time)],
        ["Observed", ageText(vm.observed_at)],
        ["VM id", h("span", { class: "mono" }, vm.id)],
      ]),
    );
    const settings = panel(
      "Processor and memory",
      { id: "vm-settings" },
      facts([
        ["Virtual processors", fmt.count(vm.cpu_count)],
        ["Memory assigned", vm.memory_assigned_bytes ? fmt.bytes(vm.memory_assigned_bytes) : h("span", { class: "muted" }, "none (not running)")],
        ["Startup memory", fmt.bytes(vm.memory_startup_bytes)],
        ["Dynamic memory", vm.dynamic_memory_enabled ? "Enabled" : "Disabled"],
        vm.dynamic_memory_enabled || vm.memory_minimum_bytes ? ["Minimum memory", fmt.bytes(vm.memory_minimum_bytes)] : null,
        vm.dynamic_memory_enabled || vm.memory_maximum_bytes ? ["Maximum memory", fmt.bytes(vm.memory_maximum_bytes)] : null,
        ["Generation", vm.generation ? `Generation ${vm.generation}` : null],
        ["Configuration version", vm.configuration_version || null],
      ]),
    );
    const notes = panel("Notes", { id: "vm-notes" }, vm.notes ? h("p", { class: "notes" }, vm.notes) : h("p", { class: "muted" }, "No notes."));
    const addButton = (label, elementId, open) =>
      h("button", { type: "button", class: "button button-small", id: elementId, disabled: locked, title: locked ? lockedWhy : "", on: { click: change(label, open) } }, icon("plus", 12), label);
    const diskActions = locked ? null : { grow: (disk) => change("the grow dialog", () => growDisk(vm, disk))(), remove: (disk) => change("the remove dialog", () => removeDisk(vm, disk))() };
    const nicActions = locked ? null : { change: (nic) => change("the adapter dialog", () => changeNic(vm, nic))(), remove: (nic) => change("the remove dialog", () => removeNic(vm, nic))() };
    const disks = panel(`Virtual disks (${vm.disks.length})`, { id: "vm-disks", actions: addButton("Add disk", "vm-add-disk", () => addDisk(vm)) }, disksTable(vm.disks, diskActions));
    const nics = panel(`Network adapters (${vm.nics.length})`, { id: "vm-nics", actions: addButton("Add adapter", "vm-add-nic", () => addNic(vm)) }, nicsTable(vm.nics, nicActions));
    const jobsPanel = panel(
      "Recent jobs",
      { id: "vm-jobs", actions: h("a", { href: `/jobs?vm_id=${segment(vm.id)}`, class: "panel-link" }, "All jobs of this VM") },
      recentStatus,
      scrollBox("Recent jobs", recentTable.node),
    );

    const focused = root.contains(document.activeElement) ? document.activeElement : null;
    replace(root, header, ...notices, h("div", { class: "grid-2" }, summary, h("div", { class: "stack-col" }, settings, notes)), disks, nics, jobsPanel);
    // Live updates rebuild the page: keep the keyboard on the same control.
    if (focused && !root.contains(focused)) {
      const same = focused.dataset.action
        ? root.querySelector(`[data-action="${focused.dataset.action}"]`)
        : focused.id
          ? root.querySelector(`#${CSS.escape(focused.id)}`)
          : focused.getAttribute("aria-label")
            ? root.querySelector(`[aria-label="${CSS.escape(focused.getAttribute("aria-label"))}"]`)
            : null;
      same?.focus();
    }
  }

  const onVm = (event) => {
    const next = event.detail;
    if (!vm || next.id !== vm.id || next.revision < vm.revision) return;
    const changed = next.state !== vm.state;
    vm = next;
    gone = false;
    render();
    if (changed) root.querySelector(".page-title .badge")?.classList.add("flash");
  };
  const onDeleted = (event) => {
    if (!vm || event.detail.id !== vm.id) return;
    gone = true;
    vm = { ...vm, power_actions: [] };
    render();
  };
  const onResync = () => load();
  const onStore = (event) => {
    if (vm && event.detail.reason === "host" && event.detail.name === vm.host && vm.stale) render();
  };
  const onJob = (event) => {
    const frame = event.detail;
    if (frame.kind === "job_created") {
      if (frame.data?.vm_id === id) reloadJobs();
      return;
    }
    const job = recent.find((held) => held.id === frame.data?.job_id);
    if (!job) return;
    jobs.applyEvent(job, frame);
    patchJobs();
  };
  store.addEventListener("vm", onVm);
  store.addEventListener("vm-deleted", onDeleted);
  store.addEventListener("resync", onResync);
  store.addEventListener("change", onStore);
  feed.addEventListener("event", onJob);
  feed.addEventListener("resync", reloadJobs);
  load();

  return {
    unmount() {
      controller?.abort();
      jobsController?.abort();
      reloadJobs.cancel();
      patchJobs.cancel();
      power?.destroy();
      store.removeEventListener("vm", onVm);
      store.removeEventListener("vm-deleted", onDeleted);
      store.removeEventListener("resync", onResync);
      store.removeEventListener("change", onStore);
      feed.removeEventListener("event", onJob);
      feed.removeEventListener("resync", reloadJobs);
    },
  };
}
