// A host's resource catalogue (GET /api/v1/hosts/{host}/resources: storage classes,
// networks, golden images, virtual switches) as form choices, and the disk and network
// adapter fields the provisioning form and the VM page's dialogs share. `make(name, opts)`
// creates a field under the disk's or adapter's pointer (a list row's, or `/disk`, `/nic`).

import { get, segment } from "../api.js";
import { h } from "../dom.js";
import * as fmt from "../format.js";
import { createField } from "./fields.js";

const CACHE_MS = 30000;
const cache = new Map();

/** The host's catalogue, read from the host (cached 30 s per host). Throws ApiError. */
export function resources(host, { fresh = false } = {}) {
  const held = cache.get(host);
  if (held && !fresh && Date.now() - held.at < CACHE_MS) return held.promise;
  const promise = get(`/hosts/${segment(host)}/resources`);
  cache.set(host, { at: Date.now(), promise });
  promise.catch(() => cache.delete(host));
  return promise;
}

/** Storage classes: "fast-ssd · 1.2 TiB free". */
export function storageOptions(catalogue) {
  return catalogue.storage_classes.map((c) => ({
    value: c.name,
    label: c.free_bytes !== null && c.free_bytes !== undefined ? `${c.name} · ${fmt.bytes(c.free_bytes)} free` : c.name,
  }));
}

/** Golden images: "ubuntu-24.04 · Linux · 64 GiB". */
export function imageOptions(catalogue) {
  return catalogue.images.map((image) => ({
    value: image.name,
    label: [image.name, image.os_family !== "unknown" ? fmt.osFamilyLabel(image.os_family) : null, image.capacity_bytes ? fmt.bytes(image.capacity_bytes) : null].filter(Boolean).join(" · "),
  }));
}

/** Networks: "Production · External-Switch, VLAN 100". */
export function networkOptions(catalogue) {
  return catalogue.networks.map((n) => ({
    value: n.name,
    label: `${n.name} · ${n.switch_name}${n.vlan_id ? `, VLAN ${n.vlan_id}` : ", untagged"}`,
  }));
}

/** Virtual switches: "External-Switch (external)". */
export function switchOptions(catalogue) {
  return catalogue.virtual_switches.map((s) => ({ value: s.name, label: s.type && s.type !== "unknown" ? `${s.name} (${s.type})` : s.name }));
}

/** The capacity of an image of the catalogue (0 when unknown). */
export function imageSize(catalogue, name) {
  return catalogue?.images.find((image) => image.name === name)?.capacity_bytes || 0;
}

/** The OS family of an image of the catalogue. */
export function imageFamily(catalogue, name) {
  return catalogue?.images.find((image) => image.name === name)?.os_family || null;
}

/** A choice that is not part of the spec (how a disk or adapter is made); `form.refresh` on change. */
export function modeChoice(form, label, options, value) {
  const choice = createField({ widget: "radio", label, options });
  choice.write(value);
  choice.changed = () => form.refresh();
  choice.value = () => choice.read().value;
  return choice;
}

/**
 * The fields of a new disk: how it is made (empty or from an image), image, size, type,
 * controller, storage class. Returns the nodes.
 */
export function diskFields(form, make, catalogue, { initial = {} } = {}) {
  const hasImages = catalogue.images.length > 0;
  const source = modeChoice(
    form,
    "Disk",
    [
      { value: "empty", label: "New empty disk" },
      { value: "image", label: "Copy of an image", disabled: !hasImages },
    ],
    initial.image ? "image" : "empty",
  );
  const image = make("image", {
    widget: "select",
    options: imageOptions(catalogue),
    emptyLabel: hasImages ? undefined : "No images on this host",
    when: () => source.value() === "image",
    value: initial.image,
  });
  const size = make("size_bytes", { value: initial.size_bytes, optional: false });
  const type = make("type", { value: initial.type });
  const controller = make("controller_type", { value: initial.controller_type });
  const storage = make("storage_class", {
    widget: "select",
    options: storageOptions(catalogue),
    emptyLabel: "The VM's own folder",
    value: initial.storage_class,
  });
  return [h("div", { class: "field-grid" }, source.node, image.node, size.node, type.node, controller.node, storage.node)];
}

/**
 * The fields of a network adapter: connected to a catalogue network or to a virtual
 * switch (with an optional VLAN), its name and a static MAC address. `update` leaves
 * everything optional (a change). Returns the nodes.
 */
export function nicFields(form, make, catalogue, { initial = {}, update = false } = {}) {
  const hasNetworks = catalogue.networks.length > 0;
  const mode = modeChoice(
    form,
    "Connect to",
    [
      ...(update ? [{ value: "keep", label: "Keep as it is" }] : []),
      { value: "network", label: "A network", disabled: !hasNetworks },
      { value: "switch", label: "A virtual switch" },
    ],
    update ? "keep" : hasNetworks ? "network" : "switch",
  );
  const network = make("network", {
    widget: "select",
    options: networkOptions(catalogue),
    emptyLabel: hasNetworks ? undefined : "No networks on this host",
    when: () => mode.value() === "network",
    optional: false,
    value: initial.network,
    description: "A network from the host's catalogue: its switch and VLAN.",
  });
  const switchName = make("switch_name", {
    widget: "select",
    options: switchOptions(catalogue),
    when: () => mode.value() === "switch",
    optional: false,
    value: initial.switch_name,
  });
  const vlan = make("vlan_id", {
    widget: "integer",
    when: () => mode.value() === "switch",
    value: initial.vlan_id ?? undefined,
    description: "The access VLAN, 1 to 4094; empty: untagged.",
    // A change to a switch without a VLAN makes the adapter untagged (null).
    emptyValue: update ? null : undefined,
    optional: true,
  });
  const name = make("name", { value: initial.name, baseline: update ? initial.name : undefined, placeholder: "Network Adapter" });
  const mac = make("mac_address", {
    value: initial.mac_address,
    baseline: update ? initial.mac_address : undefined,
    // Clearing the MAC of an adapter returns it to one Hyper-V assigns (null).
    emptyValue: update ? null : undefined,
    placeholder: "00:15:5D:0A:0B:0C",
    description: update ? "A static MAC address, only while the VM is off; empty: one Hyper-V assigns." : undefined,
    patternHint: "Enter 12 hex digits (00155D0A0B0C or 00:15:5D:0A:0B:0C) of a unicast address.",
  });
  return [h("div", { class: "field-grid" }, mode.node, network.node, switchName.node, vlan.node, name.node, mac.node)];
}
