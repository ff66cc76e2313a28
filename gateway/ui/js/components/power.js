// The VM's power buttons: start, shut down, turn off, reset, save, pause, resume, enabled
// from the VM's `power_actions` (the gateway's state rules). Destructive ones are confirmed
// first (shut down asks how long to wait for the guest, from the shutdown_vm schema). Each
// action is a job: the result line links it and follows it on the tab's `jobs` feed until
// it succeeds or fails (the new state arrives from inventory over /ws on its own).

import { post, segment, describeError, violations, idempotent } from "../api.js";
import { h, icon, replace } from "../dom.js";
import * as fmt from "../format.js";
import * as jobs from "../jobs.js";
import { jobSchema } from "../schema.js";
import { confirm, formDialog } from "./dialog.js";
import { toast } from "./toast.js";
import { SpecForm } from "./specform.js";

export const ACTIONS = [
  { action: "start", label: "Start", icon: "play", tone: "primary" },
  { action: "shutdown", label: "Shut down", icon: "power", options: true },
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
  { action: "save", label: "Save", icon: "save" },
  { action: "pause", label: "Pause", icon: "pause" },
  { action: "resume", label: "Resume", icon: "play" },
];

const WAIT_MS = 180000;

/** Asks how to shut down (the wait and whether to turn off after it); null when dismissed. */
async function shutdownOptions(vm) {
  const schema = await jobSchema("shutdown_vm");
  const form = new SpecForm({ schema, fixed: { "/host": vm.host, "/vm_id": vm.id } });
  const wait = form.field("/timeout_seconds", { label: "Wait for the guest (seconds)" });
  const turnOff = form.field("/turn_off_after_timeout");
  form.refresh();
  let body = null;
  const done = await formDialog({
    title: `Shut down ${vm.name}?`,
    intro: h("p", {}, "The guest operating system is asked to shut down cleanly. A guest that ignores the request keeps running unless you turn it off after the wait."),
    body: [wait.node, turnOff.node, form.summary],
    submitLabel: "Shut down",
    tone: "warning",
    onSubmit: async () => {
      if (!form.validateAll()) {
        form.focusFirstError();
        return false;
      }
      const { host, vm_id: id, ...options } = form.spec();
      body = options;
      return true;
    },
  });
  return done ? body : null;
}

/**
 * Creates the power bar for `vm`; `feed` is the tab's JobFeed. Returns {node, update(vm),
 * destroy()}: call update with each new record of the VM (live events).
 */
export function powerBar(initial, { feed }) {
  let vm = initial;
  let pending = null; // {action, label, jobId, timer}
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
      // Actions the state does not allow step back, so the possible ones stand out.
      button.classList.toggle("not-now", !allowed.has(action));
    }
  }

  function say(tone, ...parts) {
    result.className = `power-result tone-text-${tone}`;
    replace(result, ...parts);
  }

  const jobLink = (id) => h("a", { href: `/jobs/${segment(id)}` }, "the job");

  function settle(tone, ...parts) {
    if (pending) clearTimeout(pending.timer);
    pending = null;
    say(tone, ...parts);
    refresh();
  }

  async function run(spec) {
    let body = {};
    if (spec.confirm) {
      const ok = await confirm({
        title: spec.confirm.title.replace("{name}", vm.name),
        message: spec.confirm.message,
        detail: spec.confirm.detail || null,
        confirmLabel: spec.confirm.confirmLabel,
        tone: spec.confirm.tone,
      });
      if (!ok) return;
    } else if (spec.options) {
      try {
        body = await shutdownOptions(vm);
      } catch (error) {
        toast({ tone: "bad", title: "Could not load the shutdown options", body: describeError(error) });
        return;
      }
      if (!body) return;
    }
    pending = { action: spec.action, label: spec.label, jobId: null, timer: null };
    refresh();
    say("info", `${spec.label}: sending…`);
    try {
      const accepted = await post(`/vms/${segment(vm.id)}/${spec.action}`, body, { headers: idempotent() });
      if (!pending) return;
      pending.jobId = accepted.job_id;
      jobs.remember(accepted.job || { id: accepted.job_id, type: `${spec.action}_vm`, vm_name: vm.name, host: vm.host });
      say("info", `${spec.label} accepted: `, jobLink(accepted.job_id), ` is queued on ${fmt.shortHost(accepted.vm?.host || vm.host)}…`);
      pending.timer = setTimeout(() => {
        if (pending?.jobId === accepted.job_id) settle("warn", `${spec.label} was accepted but has not finished yet; see `, jobLink(accepted.job_id), ".");
      }, WAIT_MS);
    } catch (error) {
      const found = violations(error);
      const why = found.length ? found.map((v) => v.message).join("; ") : describeError(error);
      settle("bad", `${spec.label} failed: ${why}`);
      toast({ tone: "bad", title: `${spec.label} refused for ${vm.name}`, body: why });
    }
  }

  const onEvent = (event) => {
    const frame = event.detail;
    if (!pending?.jobId || frame.data?.job_id !== pending.jobId) return;
    const { label, jobId } = pending;
    if (frame.kind === "job_state_changed") {
      const state = frame.data.state;
      if (state === "running") say("info", `${label}: `, jobLink(jobId), " is running…");
      else if (state === "waiting") say("info", `${label}: `, jobLink(jobId), ` is waiting (${frame.data.waiting?.text || "its turn"})…`);
      else if (state === "succeeded") settle("ok", `${label} done: `, jobLink(jobId), " succeeded.");
      else if (state === "failed") settle("bad", `${label} failed: ${frame.data.error?.message || "the job failed"} (`, jobLink(jobId), ").");
      else if (state === "cancelled") settle("warn", `${label} was cancelled (`, jobLink(jobId), ").");
    }
  };
  feed.addEventListener("event", onEvent);

  function update(next) {
    vm = next;
    refresh();
  }

  refresh();
  return {
    node,
    update,
    destroy() {
      if (pending) clearTimeout(pending.timer);
      feed.removeEventListener("event", onEvent);
    },
  };
}
