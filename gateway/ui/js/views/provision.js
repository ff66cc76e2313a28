// The provisioning form (`/vms/new`, `?host=` preselects): a managed deployment built from
// its JSON Schema (GET /api/v1/schemas/jobs/managed_deployment). First the host (reachable
// hosts, grouped by cluster), then the VM, its disks and network adapters with choices
// from that host's resource catalogue. Errors show as you type; the server's refusals land
// on the same fields. Submitting queues one job and opens its page.

import { post, idempotent, violations as violationsOf, ApiError } from "../api.js";
import { h, replace } from "../dom.js";
import * as fmt from "../format.js";
import { setTitle } from "../router.js";
import { jobSchema, at } from "../schema.js";
import * as jobs from "../jobs.js";
import { panel, pageHeader, loading, errorBox, alert } from "../components/common.js";
import { SpecForm } from "../components/specform.js";
import { resources, storageOptions, imageOptions, imageSize, imageFamily, diskFields, nicFields } from "../components/catalogue.js";

const GENERATION_LABELS = { 1: "Generation 1 (BIOS)", 2: "Generation 2 (UEFI)" };
const NAME_HINT = "Use letters, digits and punctuation other than \\ / : * ? \" < > |; it may not start with a space or end with a space or a dot.";
const IDE_LOCATIONS = 4;

/** The rules the schema cannot say, checked as you type (the jobs service checks them too). */
function deploymentChecks(hostOf, catalogue) {
  return (spec) => {
    const found = [];
    const host = hostOf();
    const vm = spec.vm || {};
    if (vm.dynamic_memory_enabled) {
      const { memory_minimum_bytes: min, memory_startup_bytes: startup, memory_maximum_bytes: max } = vm;
      if (min !== undefined && startup !== undefined && min > startup) found.push({ pointer: "/vm/memory_minimum_bytes", rule: "memory_order", message: "must not be above the startup memory" });
      if (max !== undefined && startup !== undefined && startup > max) found.push({ pointer: "/vm/memory_maximum_bytes", rule: "memory_order", message: "must not be below the startup memory" });
    }
    if (host?.cpu_cores && vm.cpu_count > host.cpu_cores) {
      found.push({ pointer: "/vm/cpu_count", rule: "host_processors", message: `must be at most the host's ${host.cpu_cores} logical processors` });
    }
    if (vm.image && vm.boot_disk_size_bytes !== undefined && vm.boot_disk_size_bytes < imageSize(catalogue, vm.image)) {
      found.push({ pointer: "/vm/boot_disk_size_bytes", rule: "size_at_least_image", message: `must be at least the image's size, ${fmt.bytes(imageSize(catalogue, vm.image))} (a disk never shrinks)` });
    }
    (spec.disks || []).forEach((disk, index) => {
      if (disk.image && disk.size_bytes !== undefined && disk.size_bytes < imageSize(catalogue, disk.image)) {
        found.push({ pointer: `/disks/${index}/size_bytes`, rule: "size_at_least_image", message: `must be at least the image's size, ${fmt.bytes(imageSize(catalogue, disk.image))}` });
      }
    });
    if (vm.generation === 1) {
      const ide = (vm.image ? 1 : 0) + (spec.disks || []).filter((disk) => disk.controller_type === "IDE").length;
      if (ide > IDE_LOCATIONS) found.push({ pointer: "/disks", rule: "ide_locations", message: `a generation 1 VM has ${IDE_LOCATIONS} IDE locations and this needs ${ide} (the boot disk included); put the other disks on SCSI` });
    }
    return found;
  };
}

function hostLabel(host) {
  return `${fmt.shortHost(host.name)} · ${fmt.count(host.cpu_cores)} CPU · ${fmt.bytes(host.memory_available_bytes)} free`;
}

export function mount(container, { query, ctx, router }) {
  const { store } = ctx;
  setTitle("New virtual machine");
  let chosen = (query.get("host") || "").toLowerCase();
  let schema = null;
  let form = null;
  let catalogue = null;
  let sequence = 0;
  let submitting = false;
  let gone = false;

  const hostSelect = h("select", { id: "provision-host-select", "aria-describedby": "provision-host-desc" });
  const hostFacts = h("p", { class: "muted field-desc", id: "provision-host-desc" });
  const hostNote = h("p", { class: "muted field-desc" });
  const body = h("div", { class: "provision-body" });
  const root = h(
    "div",
    { class: "provision-page" },
    pageHeader({
      crumbs: [["Overview", "/"], ["Virtual machines", "/vms"], ["New VM", null]],
      title: "New virtual machine",
      sub: h("p", { class: "muted" }, "One job creates the VM, copies its boot disk, adds its disks and network adapters, and starts it. You follow it on the job's page."),
    }),
    panel(
      "Host",
      { id: "provision-host" },
      h("div", { class: "field" }, h("label", { class: "field-label", for: "provision-host-select" }, "Host"), hostSelect, hostFacts, hostNote),
    ),
    body,
  );
  replace(container, root);

  function renderHosts() {
    const reachable = store.hostList().filter((host) => host.status === "reachable");
    const others = store.hosts.size - reachable.length;
    const groups = new Map();
    for (const host of reachable) {
      const key = host.cluster || "";
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(host);
    }
    const keys = [...groups.keys()].sort((a, b) => (a === "" ? 1 : b === "" ? -1 : a.localeCompare(b)));
    const wasFocused = document.activeElement === hostSelect;
    replace(
      hostSelect,
      h("option", { value: "" }, reachable.length ? "Choose a host…" : "No reachable host"),
      keys.map((key) =>
        h(
          "optgroup",
          { label: key ? `Cluster ${key}` : "Standalone hosts" },
          groups.get(key).map((host) => h("option", { value: host.name, selected: host.name === chosen }, hostLabel(host))),
        ),
      ),
    );
    if (chosen && !reachable.some((host) => host.name === chosen)) {
      hostSelect.append(h("option", { value: chosen, selected: true, disabled: true }, `${chosen} (not reachable)`));
    }
    if (wasFocused) hostSelect.focus();
    hostNote.textContent = others > 0 ? `${fmt.plural(others, "host")} not reachable now ${others === 1 ? "is" : "are"} not offered.` : "";
    const host = store.hosts.get(chosen);
    hostFacts.textContent = host
      ? `${host.cluster ? `Cluster ${host.cluster}` : "Standalone host"} · ${fmt.count(host.cpu_cores)} logical processors · ${fmt.bytes(host.memory_available_bytes)} of ${fmt.bytes(host.memory_total_bytes)} memory free · ${fmt.plural(host.vm_count, "VM")}`
      : "The Hyper-V host the VM is created on. Its catalogue offers the storage classes, images and networks below.";
  }

  hostSelect.addEventListener("change", () => {
    chosen = hostSelect.value;
    router.navigate(`/vms/new${chosen ? `?host=${encodeURIComponent(chosen)}` : ""}`, { replace: true, focus: false });
  });

  async function load() {
    const mine = ++sequence;
    renderHosts();
    if (!chosen) {
      form = null;
      replace(body, h("p", { class: "muted provision-hint" }, "Choose a host to see what it offers."));
      return;
    }
    const previous = form ? form.spec() : null;
    replace(body, loading(`Reading the catalogue of ${fmt.shortHost(chosen)}…`));
    try {
      const [loadedSchema, loadedCatalogue] = await Promise.all([schema ? Promise.resolve(schema) : jobSchema("managed_deployment"), resources(chosen)]);
      if (mine !== sequence || gone) return;
      schema = loadedSchema;
      catalogue = loadedCatalogue;
      build(previous);
    } catch (error) {
      if (mine !== sequence || gone) return;
      replace(body, errorBox(error, () => load(), `Could not read what ${fmt.shortHost(chosen)} offers`));
    }
  }

  function build(previous) {
    // The fleet may load after the form (a deep link): read the host when checking.
    const hostOf = () => store.hosts.get(chosen);
    const keep = (pointer) => (previous ? at(previous, pointer) : undefined);
    const preview = h("pre", { class: "spec-preview mono", tabindex: "0", "aria-label": "The job spec (JSON)" });
    form = new SpecForm({
      schema,
      fixed: { "/host": chosen },
      checks: deploymentChecks(hostOf, catalogue),
      onChange: (spec) => {
        preview.textContent = JSON.stringify(spec, null, 2);
      },
    });
    const f = (pointer, opts = {}) => form.field(pointer, { value: keep(pointer), ...opts });
    const noStorage = catalogue.storage_classes.length === 0;
    const name = f("/vm/name", { patternHint: NAME_HINT, autocomplete: "off" });
    const generation = f("/vm/generation", { enumLabels: GENERATION_LABELS });
    const cpu = f("/vm/cpu_count", { limits: () => (hostOf()?.cpu_cores ? { maximum: hostOf().cpu_cores } : {}) });
    const memory = f("/vm/memory_startup_bytes");
    const dynamic = f("/vm/dynamic_memory_enabled");
    const minimum = f("/vm/memory_minimum_bytes");
    const maximum = f("/vm/memory_maximum_bytes");
    const storage = f("/vm/storage_class", {
      widget: "select",
      options: storageOptions(catalogue),
      emptyLabel: noStorage ? "No storage classes on this host" : undefined,
    });
    const image = f("/vm/image", { widget: "select", options: imageOptions(catalogue), emptyLabel: "No image: the VM starts without a boot disk" });
    const bootSize = f("/vm/boot_disk_size_bytes");
    const family = f("/vm/os_family", {
      enumLabels: { windows: "Windows", linux: "Linux" },
      when: () => !form.value("/vm/image"),
      // Without an image the service takes windows: say so by choosing it.
      value: keep("/vm/os_family") ?? "windows",
      optional: false,
    });
    const familyNote = h("p", { class: "muted field-desc image-family" });
    const secureBoot = f("/vm/secure_boot_enabled");
    const template = f("/vm/secure_boot_template", { widget: "select", emptyLabel: "Automatic: from the OS family" });
    const notes = f("/vm/notes", { widget: "textarea", rows: 2 });
    const start = f("/start");

    const disks = form.list("/disks", {
      addLabel: "Add a disk",
      rowTitle: (index) => `Disk ${index + 1}`,
      empty: "No further disks: the VM has its boot disk only (or none, without an image).",
      renderRow: (row) => diskFields(form, (fieldName, opts = {}) => row.field(fieldName, { value: keep(`${row.base()}/${fieldName}`), ...opts }), catalogue),
    });
    const nics = form.list("/nics", {
      addLabel: "Add a network adapter",
      rowTitle: (index) => `Network adapter ${index + 1}`,
      empty: "No network adapters: the VM is not connected.",
      renderRow: (row) => nicFields(form, (fieldName, opts = {}) => row.field(fieldName, { value: keep(`${row.base()}/${fieldName}`), ...opts }), catalogue),
    });
    const diskRows = previous ? (previous.disks || []).length : 0;
    for (let i = 0; i < diskRows; i += 1) disks.add();
    const nicRows = previous ? (previous.nics || []).length : 1;
    for (let i = 0; i < nicRows; i += 1) nics.add();

    const submit = h("button", { type: "submit", class: "button button-primary", id: "provision-submit", disabled: noStorage }, "Deploy VM");
    const cancel = h("a", { class: "button", href: "/vms" }, "Cancel");
    const failure = h("div", { class: "submit-failure" });
    const vmPanel = panel(
      "Virtual machine",
      { id: "provision-vm" },
      noStorage ? alert("bad", "This host offers no storage class", h("p", {}, `A VM needs one. Add storage classes to ${catalogue.catalogue_path || "the host's catalogue"} and try again.`)) : null,
      h("div", { class: "field-grid" }, name.node, generation.node),
      h("div", { class: "field-grid" }, cpu.node, memory.node),
      h("div", { class: "field-grid" }, dynamic.node),
      h("div", { class: "field-grid" }, minimum.node, maximum.node),
      h("div", { class: "field-grid" }, storage.node, image.node),
      h("div", { class: "field-grid" }, bootSize.node, h("div", { class: "field-stack" }, family.node, familyNote)),
      h("div", { class: "field-grid" }, secureBoot.node, template.node),
      notes.node,
    );
    const formNode = h(
      "form",
      { class: "spec-form", novalidate: true, "aria-labelledby": "page-title" },
      vmPanel,
      panel("Disks", { id: "provision-disks" }, h("p", { class: "muted panel-lead" }, "Created and attached in order after the boot disk."), disks.node),
      panel("Network adapters", { id: "provision-nics" }, nics.node),
      panel(
        "Deploy",
        { id: "provision-submit-panel" },
        start.node,
        form.summary,
        failure,
        h("details", { class: "spec-details" }, h("summary", {}, "The job spec that will be sent"), preview),
        h("div", { class: "form-buttons" }, cancel, submit),
      ),
    );
    const syncFamily = () => {
      const chosenImage = form.value("/vm/image");
      const fromImage = chosenImage ? imageFamily(catalogue, chosenImage) : null;
      familyNote.textContent = chosenImage ? `OS family: ${fmt.osFamilyLabel(fromImage || "unknown")} (from the image), which picks the Secure Boot template.` : "";
      familyNote.hidden = !chosenImage;
    };
    const baseChange = form.onChange;
    form.onChange = (spec) => {
      baseChange(spec);
      syncFamily();
    };
    formNode.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (submitting) return;
      replace(failure);
      if (!form.validateAll()) {
        form.focusFirstError();
        return;
      }
      submitting = true;
      submit.disabled = true;
      submit.textContent = "Deploying…";
      try {
        const accepted = await post("/deployments", form.spec(), { headers: idempotent() });
        jobs.remember(accepted.job);
        router.navigate(`/jobs/${encodeURIComponent(accepted.job_id)}`);
      } catch (error) {
        const found = violationsOf(error);
        if (found.length) form.showServer(found);
        else replace(failure, errorBox(error, null, "The deployment was not queued"));
        if (error instanceof ApiError && error.status === 409 && found.some((v) => v.rule === "host_reachable")) renderHosts();
      } finally {
        submitting = false;
        if (!gone) {
          submit.disabled = noStorage;
          submit.textContent = "Deploy VM";
        }
      }
    });
    replace(body, formNode);
    form.refresh();
    if (!previous) name.input.focus();
  }

  const onStore = (event) => {
    if (event.detail.reason === "host" || event.detail.reason === "load" || event.detail.reason === "resync") {
      renderHosts();
      if (event.detail.reason !== "host" || event.detail.name === chosen) form?.refresh();
    }
  };
  store.addEventListener("change", onStore);
  load();

  return {
    update(search) {
      const next = (search.get("host") || "").toLowerCase();
      if (next === chosen && form) return;
      chosen = next;
      load();
    },
    unmount() {
      gone = true;
      store.removeEventListener("change", onStore);
    },
  };
}
