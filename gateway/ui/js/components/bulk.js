// Bulk power actions on the VMs selected in a VM table: a bar with the selection's size and
// one button per action (with how many of the selected VMs the action suits now), a
// confirmation listing the VMs, then POST /api/v1/vms/power and a dialog with one result
// per VM: its job (followed live on the tab's `jobs` feed) or why it was refused.

import { post, segment, describeError, idempotent } from "../api.js";
import { h, icon, replace } from "../dom.js";
import * as fmt from "../format.js";
import * as jobs from "../jobs.js";
import { open, confirm } from "./dialog.js";
import { ACTIONS } from "./power.js";
import { jobBadge } from "./jobui.js";
import { toast } from "./toast.js";

const DESTRUCTIVE = new Set(["stop", "reset", "shutdown"]);

function resultsDialog(action, answer, vms, feed) {
  const label = ACTIONS.find((a) => a.action === action)?.label || action;
  const states = new Map();
  const cells = new Map();
  const rows = answer.results.map((result) => {
    const vm = result.vm || vms.get(result.vm_id) || { id: result.vm_id, name: result.vm_id };
    let outcome;
    if (result.status === "accepted") {
      jobs.remember({ id: result.job_id, type: `${action}_vm`, vm_name: vm.name, host: vm.host });
      const cell = h("span", { class: "bulk-job" }, jobBadge("pending"));
      cells.set(result.job_id, cell);
      outcome = [cell, " ", h("a", { href: `/jobs/${segment(result.job_id)}` }, "job")];
    } else {
      // A pre-check's violations say it without the field's pointer.
      const said = (result.error?.details?.violations || []).map((v) => v.message).filter(Boolean);
      const why = said.length ? said.join("; ") : result.error?.message || `refused (${result.http_status})`;
      outcome = h("span", { class: "tone-text-bad" }, why[0].toUpperCase() + why.slice(1));
    }
    return h(
      "tr",
      { dataset: { vmId: result.vm_id, status: result.status } },
      h("td", {}, h("a", { href: `/vms/${segment(vm.id)}` }, vm.name)),
      h("td", {}, result.previous_state ? fmt.stateLabel(result.previous_state) : h("span", { class: "muted" }, "—")),
      h("td", {}, outcome),
    );
  });
  const onEvent = (event) => {
    const frame = event.detail;
    const cell = cells.get(frame.data?.job_id);
    if (!cell || frame.kind !== "job_state_changed") return;
    states.set(frame.data.job_id, frame.data.state);
    replace(cell, jobBadge(frame.data.state));
    if (frame.data.state === "failed" && frame.data.error?.message) cell.append(h("span", { class: "tone-text-bad" }, ` ${frame.data.error.message}`));
  };
  feed.addEventListener("event", onEvent);
  const body = [
    h("p", {}, `${fmt.plural(answer.accepted, "job")} queued, ${answer.refused} refused.`),
    h(
      "div",
      { class: "table-scroll bulk-results" },
      h(
        "table",
        { class: "data-table" },
        h("caption", { class: "visually-hidden" }, `${label}: one result per VM`),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "VM"), h("th", { scope: "col" }, "Was"), h("th", { scope: "col" }, "Result"))),
        h("tbody", {}, rows),
      ),
    ),
  ];
  return open({ title: `${label}: ${fmt.plural(answer.requested, "VM")}`, body, buttons: [{ label: "Close", value: "close", autofocus: true }] }).finally(() =>
    feed.removeEventListener("event", onEvent),
  );
}

/**
 * The bulk bar. `selection()` gives the selected VMs (records), `clear()` empties it.
 * Returns {node, update()}; call update when the selection or its VMs change.
 */
export function bulkBar({ feed, selection, clear }) {
  const count = h("span", { class: "bulk-count", role: "status", "aria-live": "polite" });
  const buttons = ACTIONS.map((spec) => {
    const button = h("button", { type: "button", class: "button button-small", dataset: { bulkAction: spec.action } }, icon(spec.icon, 12), spec.label);
    button.addEventListener("click", () => run(spec));
    return { spec, button };
  });
  const clearButton = h("button", { type: "button", class: "button button-quiet button-small" }, "Clear selection");
  clearButton.addEventListener("click", () => clear());
  const node = h("div", { class: "bulk-bar", role: "group", "aria-label": "Actions on the selected VMs", hidden: true }, count, h("div", { class: "button-group" }, buttons.map((b) => b.button)), clearButton);

  function update() {
    const vms = selection();
    node.hidden = vms.length === 0;
    count.textContent = `${fmt.plural(vms.length, "VM")} selected`;
    for (const { spec, button } of buttons) {
      const suits = vms.filter((vm) => (vm.power_actions || []).includes(spec.action) && !vm.stale).length;
      button.disabled = suits === 0;
      button.title = suits === vms.length ? "" : `${suits} of ${vms.length} can ${spec.label.toLowerCase()} now`;
      button.lastChild.textContent = suits && suits !== vms.length ? `${spec.label} (${suits})` : spec.label;
    }
  }

  async function run(spec) {
    const vms = selection();
    const suits = vms.filter((vm) => (vm.power_actions || []).includes(spec.action) && !vm.stale);
    const others = vms.filter((vm) => !suits.includes(vm));
    const ok = await confirm({
      title: `${spec.label} ${fmt.plural(vms.length, "VM")}?`,
      message: `${spec.label}: ${suits.map((vm) => vm.name).join(", ")}.`,
      detail: others.length ? `Not possible now, so refused: ${others.map((vm) => `${vm.name} (${vm.stale ? "host unreachable" : fmt.stateLabel(vm.state).toLowerCase()})`).join(", ")}.` : null,
      confirmLabel: `${spec.label} ${fmt.plural(vms.length, "VM")}`,
      tone: DESTRUCTIVE.has(spec.action) ? "danger" : "primary",
    });
    if (!ok) return;
    for (const { button } of buttons) button.disabled = true;
    try {
      const answer = await post("/vms/power", { action: spec.action, vm_ids: vms.map((vm) => vm.id) }, { headers: idempotent() });
      clear();
      await resultsDialog(spec.action, answer, new Map(vms.map((vm) => [vm.id, vm])), feed);
    } catch (error) {
      toast({ tone: "bad", title: `${spec.label} was not sent`, body: describeError(error) });
    } finally {
      update();
    }
  }

  update();
  return { node, update };
}
