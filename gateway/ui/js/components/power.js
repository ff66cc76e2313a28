// The VM's power buttons: enabled from the VM's `power_actions` (the gateway's state
// rules), destructive ones confirmed first, the result shown next to them: "accepted" when
// the gateway took it, then the new state once the host reports it over /ws (or the error,
// e.g. 409 with the state that forbids it). Issue 4 adds save/pause/resume and jobs here.

import { post, segment, describeError } from "../api.js";
import { h, icon } from "../dom.js";
import * as fmt from "../format.js";
import { confirm } from "./dialog.js";
import { toast } from "./toast.js";

const ACTIONS = [
  { action: "start", label: "Start", icon: "play", tone: "primary" },
  {
    action: "shutdown",
    label: "Shut down",
    icon: "power",
    confirm: {
      title: "Shut down {name}?",
      message: "The guest operating system is asked to shut down cleanly.",
      detail: "A guest that ignores the request keeps running; use Turn off to stop it at once.",
      confirmLabel: "Shut down",
      tone: "warning",
    },
  },
  {
    action: "stop",
    label: "Turn off",
    icon: "stop",
    confirm: {
      title: "Turn off {name}?",
      message: "The VM is powered off at once, like pulling the plug. Unsaved work in the guest is lost.",
      confirmLabel: "Turn off",
      tone: "danger",
    },
  },
  {
    action: "reset",
    label: "Reset",
    icon: "reset",
    confirm: {
      title: "Reset {name}?",
      message: "The VM is restarted at once without shutting down the guest. Unsaved work in the guest is lost.",
      confirmLabel: "Reset",
      tone: "danger",
    },
  },
];

const WAIT_MS = 90000;

/**
 * Creates the power bar for `vm`. Returns {node, update(vm)}: call update with each new
 * record of the VM (live events) to refresh the buttons and settle a pending action.
 */
export function powerBar(initial) {
  let vm = initial;
  let pending = null; // {action, from, timer}
  const result = h("p", { class: "power-result", role: "status", "aria-live": "polite" });
  const buttons = new Map();
  for (const spec of ACTIONS) {
    const button = h(
      "button",
      { type: "button", class: ["button", spec.tone === "primary" && "button-primary"], dataset: { action: spec.action } },
      icon(spec.icon, 14),
      spec.label,
    );
    button.addEventListener("click", () => run(spec));
    buttons.set(spec.action, button);
  }
  const group = h("div", { class: "button-group", role: "group", "aria-label": "Power" }, [...buttons.values()]);
  const node = h("div", { class: "power-bar" }, group, result);

  function refresh() {
    const allowed = new Set(vm.power_actions || []);
    for (const [action, button] of buttons) {
      const enabled = allowed.has(action) && !pending && !vm.stale;
      button.disabled = !enabled;
      button.title = enabled ? "" : vm.stale ? "The host is unreachable" : pending ? "An action is in progress" : `Not possible while the VM is ${fmt.stateLabel(vm.state).toLowerCase()}`;
    }
  }

  function say(tone, text) {
    result.className = `power-result tone-text-${tone}`;
    result.textContent = text;
  }

  async function run(spec) {
    if (spec.confirm) {
      const ok = await confirm({
        title: spec.confirm.title.replace("{name}", vm.name),
        message: spec.confirm.message,
        detail: spec.confirm.detail || null,
        confirmLabel: spec.confirm.confirmLabel,
        tone: spec.confirm.tone,
      });
      if (!ok) return;
    }
    pending = { action: spec.action, from: vm.state, revision: vm.revision, timer: null };
    refresh();
    say("info", `${spec.label}: sending…`);
    try {
      const accepted = await post(`/vms/${segment(vm.id)}/${spec.action}`);
      say("info", `${spec.label} accepted; waiting for ${fmt.shortHost(accepted.vm?.host || vm.host)} to report the new state…`);
      pending.timer = setTimeout(() => {
        if (!pending) return;
        say("warn", `${spec.label} was accepted, but no new state has been reported yet. It may still be running on the host.`);
        pending = null;
        refresh();
      }, WAIT_MS);
    } catch (error) {
      pending = null;
      say("bad", `${spec.label} failed: ${describeError(error)}`);
      toast({ tone: "bad", title: `${spec.label} failed for ${vm.name}`, body: describeError(error) });
      refresh();
    }
  }

  function update(next) {
    vm = next;
    const settled = pending && pending.timer && vm.revision > pending.revision && !fmt.transitional(vm.state);
    if (settled && (vm.state !== pending.from || pending.action === "reset")) {
      clearTimeout(pending.timer);
      const label = ACTIONS.find((a) => a.action === pending.action)?.label || pending.action;
      say("ok", `${label} done: ${vm.name} is ${fmt.stateLabel(vm.state).toLowerCase()}.`);
      toast({ tone: "ok", title: `${vm.name} is ${fmt.stateLabel(vm.state).toLowerCase()}`, body: `${label} finished on ${fmt.shortHost(vm.host)}.` });
      pending = null;
    } else if (pending && pending.timer && fmt.transitional(vm.state)) {
      say("info", `${vm.name} is ${fmt.stateLabel(vm.state).toLowerCase()}…`);
    }
    refresh();
  }

  refresh();
  return { node, update };
}
