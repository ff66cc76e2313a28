// Changing and deleting a VM from its page: the settings dialog (processors, memory,
// dynamic memory, notes — an update_vm spec holding only what changed, with Hyper-V's rules
// about what needs the VM off), and the delete dialog (force, delete disks, from the
// delete_vm schema). Each submits a job and says so with a link.

import { patch, del, segment, idempotent, violations, describeError } from "../api.js";
import { h } from "../dom.js";
import * as fmt from "../format.js";
import { jobSchema } from "../schema.js";
import { formDialog } from "./dialog.js";
import { SpecForm } from "./specform.js";
import { accepted } from "./jobui.js";
import { toast } from "./toast.js";

/** Submits `request()`; maps a refusal's violations onto `form`; true when a job was queued. */
export async function submitJob(form, request, what) {
  if (!form.validateAll()) {
    form.focusFirstError();
    return false;
  }
  try {
    const answer = await request();
    accepted(answer, what);
    return true;
  } catch (error) {
    const found = violations(error);
    if (!found.length) throw error;
    form.showServer(found);
    return false;
  }
}

/** Leaves out the values the path supplies (the body may not repeat them). */
export function bodyOf(spec, ...keys) {
  const body = { ...spec };
  for (const key of keys) delete body[key];
  return body;
}

const TiB = 1099511627776;

/** The settings dialog; `host` (the VM's host record, if known) bounds the processors. */
export async function editVm(vm, host = null) {
  const schema = await jobSchema("update_vm");
  const off = vm.state === "off";
  const running = vm.state === "running" || vm.state === "paused";
  const offOnly = off ? null : "Turn the VM off to change this";
  const form = new SpecForm({
    schema,
    fixed: { "/host": vm.host, "/vm_id": vm.id },
    nothingMessage: "Nothing changed yet.",
    checks: (spec) => {
      const found = [];
      if (spec.cpu_count !== undefined && Number.isFinite(cpuLimit) && spec.cpu_count > cpuLimit) {
        const why = vm.generation === 1 && cpuLimit === 64 ? "a generation 1 VM has" : "the host has";
        found.push({ pointer: "/cpu_count", rule: "cpu_limit", message: `must be at most ${cpuLimit}: ${why} no more` });
      }
      if (spec.memory_startup_bytes !== undefined && memoryLimit.maximum && spec.memory_startup_bytes > memoryLimit.maximum) {
        found.push({ pointer: "/memory_startup_bytes", rule: "generation_memory", message: "must be at most 1 TiB on a generation 1 VM" });
      }
      const dynamicOn = spec.dynamic_memory_enabled ?? vm.dynamic_memory_enabled;
      if (!dynamicOn) return found;
      if (spec.dynamic_memory_enabled && !vm.dynamic_memory_enabled) {
        // Turning it on needs both limits (the VM has none yet).
        for (const key of ["memory_minimum_bytes", "memory_maximum_bytes"]) {
          if (spec[key] === undefined && !vm[key]) found.push({ pointer: `/${key}`, rule: "required", message: "is required to turn dynamic memory on" });
        }
      }
      const min = spec.memory_minimum_bytes ?? vm.memory_minimum_bytes;
      const startup = spec.memory_startup_bytes ?? vm.memory_startup_bytes;
      const max = spec.memory_maximum_bytes ?? vm.memory_maximum_bytes;
      if (min && startup && min > startup) found.push({ pointer: "/memory_minimum_bytes", rule: "memory_order", message: "must not be above the startup memory" });
      if (max && startup && startup > max) found.push({ pointer: "/memory_maximum_bytes", rule: "memory_order", message: "must not be below the startup memory" });
      if (running && vm.dynamic_memory_enabled) {
        if (spec.memory_minimum_bytes !== undefined && vm.memory_minimum_bytes && spec.memory_minimum_bytes > vm.memory_minimum_bytes) {
          found.push({ pointer: "/memory_minimum_bytes", rule: "running_minimum", message: `can only go down while the VM runs (now ${fmt.bytes(vm.memory_minimum_bytes)})` });
        }
        if (spec.memory_maximum_bytes !== undefined && vm.memory_maximum_bytes && spec.memory_maximum_bytes < vm.memory_maximum_bytes) {
          found.push({ pointer: "/memory_maximum_bytes", rule: "running_maximum", message: `can only go up while the VM runs (now ${fmt.bytes(vm.memory_maximum_bytes)})` });
        }
      }
      return found;
    },
  });
  // What the VM's generation and host allow (the schema knows neither).
  const cpuLimit = Math.min(...[vm.generation === 1 ? 64 : null, host?.cpu_cores || null].filter(Boolean), Infinity);
  const memoryLimit = vm.generation === 1 ? { maximum: TiB } : {};
  const cpu = form.field("/cpu_count", { baseline: vm.cpu_count, limits: () => (Number.isFinite(cpuLimit) ? { maximum: cpuLimit } : {}) });
  const startup = form.field("/memory_startup_bytes", { baseline: vm.memory_startup_bytes, limits: () => memoryLimit });
  const dynamic = form.field("/dynamic_memory_enabled", { baseline: vm.dynamic_memory_enabled });
  const dynamicOn = () => dynamic.read().value === true;
  const minimum = form.field("/memory_minimum_bytes", { baseline: vm.memory_minimum_bytes ?? undefined, value: vm.memory_minimum_bytes ?? undefined, when: dynamicOn, optional: false });
  const maximum = form.field("/memory_maximum_bytes", { baseline: vm.memory_maximum_bytes ?? undefined, value: vm.memory_maximum_bytes ?? undefined, when: dynamicOn, optional: false });
  const notes = form.field("/notes", { widget: "textarea", baseline: vm.notes || "", keepEmpty: true, rows: 4, description: "Replaces the old notes; empty clears them." });
  for (const field of [cpu, startup, dynamic]) field.setDisabled(!off, offOnly);
  form.refresh();
  const changes = h("p", { class: "muted dialog-note" });
  const baseChange = form.onChange;
  form.onChange = (spec) => {
    baseChange?.(spec);
    const count = Object.keys(bodyOf(spec, "host", "vm_id")).length;
    changes.textContent = count ? `${fmt.plural(count, "change")} to send.` : "Nothing changed yet.";
  };
  form.refresh();
  return formDialog({
    title: `Settings of ${vm.name}`,
    intro: off
      ? null
      : h("p", { class: "muted" }, `${vm.name} is ${fmt.stateLabel(vm.state).toLowerCase()}: processors, startup memory and turning dynamic memory on or off need it off. Notes${vm.dynamic_memory_enabled ? ", and a lower minimum or a higher maximum memory," : ""} can change now.`),
    body: [h("div", { class: "field-grid" }, cpu.node, startup.node), dynamic.node, h("div", { class: "field-grid" }, minimum.node, maximum.node), notes.node, changes, form.summary],
    submitLabel: "Save changes",
    wide: true,
    onSubmit: () => submitJob(form, () => patch(`/vms/${segment(vm.id)}`, bodyOf(form.spec(), "host", "vm_id"), { headers: idempotent() }), `Changes to ${vm.name}`),
  });
}

/** The delete dialog. */
export async function deleteVm(vm) {
  const schema = await jobSchema("delete_vm");
  const off = vm.state === "off";
  const form = new SpecForm({
    schema,
    fixed: { "/host": vm.host, "/vm_id": vm.id },
    checks: (spec) =>
      off || spec.force ? [] : [{ pointer: "/force", rule: "state_allows", message: `${vm.name} is ${fmt.stateLabel(vm.state).toLowerCase()}: tick this to turn it off first` }],
  });
  const force = form.field("/force", { label: "Turn it off first (force)", value: !off });
  const disks = vm.disks || [];
  const size = disks.reduce((sum, disk) => sum + (disk.file_size_bytes || 0), 0);
  const deleteDisks = form.field("/delete_disks", {
    label: disks.length ? `Delete its ${fmt.plural(disks.length, "virtual disk file")} too (${fmt.bytes(size)})` : "Delete its virtual disk files too",
  });
  form.refresh();
  return formDialog({
    title: `Delete ${vm.name}?`,
    intro: [
      h("p", {}, `The VM is removed from ${vm.host}${vm.clustered ? ", with its cluster role" : ""}. This cannot be undone.`),
      disks.length ? h("ul", { class: "plain-list mono dialog-list" }, disks.map((disk) => h("li", { title: disk.path }, disk.path))) : null,
    ],
    body: [force.node, deleteDisks.node, form.summary],
    submitLabel: "Delete VM",
    tone: "danger",
    onSubmit: () => {
      const spec = form.spec();
      return submitJob(
        form,
        () => del(`/vms/${segment(vm.id)}`, { params: { force: spec.force ? "true" : "false", delete_disks: spec.delete_disks ? "true" : "false" }, headers: idempotent() }),
        `Delete ${vm.name}`,
      );
    },
  });
}

/** Runs a dialog opener, reporting a failure to load it (schemas, catalogue) as a toast. */
export async function guarded(what, open) {
  try {
    return await open();
  } catch (error) {
    toast({ tone: "bad", title: `Could not open ${what}`, body: describeError(error) });
    return false;
  }
}
