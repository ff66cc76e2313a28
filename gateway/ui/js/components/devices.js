// The VM page's disk and network adapter changes: add a disk (new or from an image), grow
// one (never shrink), remove one (keeping or deleting its file); add, change and remove
// network adapters. Each dialog is built from its job's schema (create_disk, resize_disk,
// create_nic, update_nic) with the host's catalogue for choices, and submits one job.

import { post, patch, del, segment, idempotent } from "../api.js";
import { h } from "../dom.js";
import * as fmt from "../format.js";
import { jobSchema } from "../schema.js";
import { formDialog, confirm } from "./dialog.js";
import { SpecForm } from "./specform.js";
import { resources, diskFields, nicFields, imageSize } from "./catalogue.js";
import { submitJob, bodyOf } from "./vmedit.js";
import { accepted } from "./jobui.js";

const MiB = 1048576;

function diskLabel(disk) {
  return `${disk.name} (${fmt.bytes(disk.capacity_bytes)})`;
}

/** Adds a disk. */
export async function addDisk(vm) {
  const [schema, catalogue] = await Promise.all([jobSchema("create_disk"), resources(vm.host)]);
  const form = new SpecForm({
    schema,
    fixed: { "/host": vm.host, "/vm_id": vm.id },
    checks: (spec) => {
      const disk = spec.disk || {};
      if (disk.image && disk.size_bytes !== undefined && disk.size_bytes < imageSize(catalogue, disk.image)) {
        return [{ pointer: "/disk/size_bytes", rule: "size_at_least_image", message: `must be at least the image's size, ${fmt.bytes(imageSize(catalogue, disk.image))}` }];
      }
      return [];
    },
  });
  const nodes = diskFields(form, (name, opts) => form.field(`/disk/${name}`, opts), catalogue);
  form.refresh();
  return formDialog({
    title: `Add a disk to ${vm.name}`,
    intro: h("p", { class: "muted" }, "It is attached at the first free location of its controller."),
    body: [...nodes, form.summary],
    submitLabel: "Add disk",
    wide: true,
    onSubmit: () => submitJob(form, () => post(`/vms/${segment(vm.id)}/disks`, bodyOf(form.spec(), "host", "vm_id"), { headers: idempotent() }), `Add disk to ${vm.name}`),
  });
}

/** Grows a disk. */
export async function growDisk(vm, disk) {
  const schema = await jobSchema("resize_disk");
  const form = new SpecForm({
    schema,
    fixed: { "/host": vm.host, "/vm_id": vm.id, "/disk_id": disk.id },
    checks: (spec) =>
      spec.size_bytes !== undefined && spec.size_bytes <= disk.capacity_bytes
        ? [{ pointer: "/size_bytes", rule: "grow_only", message: `must be larger than the disk's ${fmt.bytes(disk.capacity_bytes)}: a disk never shrinks` }]
        : [],
  });
  const size = form.field("/size_bytes", { value: disk.capacity_bytes, limits: () => ({ minimum: disk.capacity_bytes + MiB }) });
  form.refresh();
  return formDialog({
    title: `Grow ${disk.name}`,
    intro: h("p", { class: "muted" }, `Now ${fmt.bytes(disk.capacity_bytes)}. The guest sees the new space and extends its volume itself.`),
    body: [size.node, form.summary],
    submitLabel: "Grow disk",
    onSubmit: () => submitJob(form, () => patch(`/vms/${segment(vm.id)}/disks/${segment(disk.id)}`, { size_bytes: form.spec().size_bytes }, { headers: idempotent() }), `Grow ${disk.name}`),
  });
}

/** Removes a disk (its file deleted unless kept). */
export async function removeDisk(vm, disk) {
  const schema = await jobSchema("delete_disk");
  const form = new SpecForm({ schema, fixed: { "/host": vm.host, "/vm_id": vm.id, "/disk_id": disk.id } });
  const file = form.field("/delete_file", { label: "Delete the disk file too", value: true });
  form.refresh();
  return formDialog({
    title: `Remove ${diskLabel(disk)} from ${vm.name}?`,
    intro: h("p", {}, "The disk is detached from the VM. ", h("span", { class: "mono" }, disk.path)),
    body: [file.node, form.summary],
    submitLabel: "Remove disk",
    tone: "danger",
    onSubmit: () =>
      submitJob(
        form,
        () => del(`/vms/${segment(vm.id)}/disks/${segment(disk.id)}`, { params: { delete_file: form.spec().delete_file === false ? "false" : "true" }, headers: idempotent() }),
        `Remove ${disk.name}`,
      ),
  });
}

/** Adds a network adapter. */
export async function addNic(vm) {
  const [schema, catalogue] = await Promise.all([jobSchema("create_nic"), resources(vm.host)]);
  const form = new SpecForm({ schema, fixed: { "/host": vm.host, "/vm_id": vm.id } });
  const nodes = nicFields(form, (name, opts) => form.field(`/nic/${name}`, opts), catalogue);
  form.refresh();
  return formDialog({
    title: `Add a network adapter to ${vm.name}`,
    body: [...nodes, form.summary],
    submitLabel: "Add adapter",
    wide: true,
    onSubmit: () => submitJob(form, () => post(`/vms/${segment(vm.id)}/nics`, bodyOf(form.spec(), "host", "vm_id"), { headers: idempotent() }), `Add adapter to ${vm.name}`),
  });
}

/** Changes a network adapter (only what changed is sent). */
export async function changeNic(vm, nic) {
  const [schema, catalogue] = await Promise.all([jobSchema("update_nic"), resources(vm.host)]);
  const form = new SpecForm({ schema, fixed: { "/host": vm.host, "/vm_id": vm.id, "/nic_id": nic.id }, nothingMessage: "Nothing changed yet." });
  const initial = { name: nic.name, mac_address: nic.mac_address ? fmt.mac(nic.mac_address).replace(/-/g, ":") : undefined };
  const nodes = nicFields(form, (name, opts) => form.field(`/${name}`, opts), catalogue, { initial, update: true });
  form.refresh();
  const now = nic.network_name ? `network ${nic.network_name}` : nic.switch_name ? `switch ${nic.switch_name}${nic.vlan_id ? `, VLAN ${nic.vlan_id}` : ", untagged"}` : "not connected";
  return formDialog({
    title: `Change ${nic.name}`,
    intro: h("p", { class: "muted" }, `Connected to ${now}. The MAC address changes only while the VM is off.`),
    body: [...nodes, form.summary],
    submitLabel: "Save changes",
    wide: true,
    onSubmit: () =>
      submitJob(form, () => patch(`/vms/${segment(vm.id)}/nics/${segment(nic.id)}`, bodyOf(form.spec(), "host", "vm_id", "nic_id"), { headers: idempotent() }), `Change ${nic.name}`),
  });
}

/** Removes a network adapter. */
export async function removeNic(vm, nic) {
  const ok = await confirm({
    title: `Remove ${nic.name} from ${vm.name}?`,
    message: `The adapter (${fmt.mac(nic.mac_address)}${nic.switch_name ? ` on ${nic.switch_name}` : ""}) is removed; the guest loses that connection.`,
    confirmLabel: "Remove adapter",
    tone: "danger",
  });
  if (!ok) return false;
  const answer = await del(`/vms/${segment(vm.id)}/nics/${segment(nic.id)}`, { headers: idempotent() });
  accepted(answer, `Remove ${nic.name}`);
  return true;
}
