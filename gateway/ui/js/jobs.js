// Jobs as the UI knows them: labels and tones for types and states, applying the `jobs`
// topic's events to a Job held in memory, the tab's one subscription to `jobs` (JobFeed:
// views listen to it rather than subscribing again), and the jobs submitted from this
// browser, remembered in localStorage, whose end is announced with a toast.

import * as fmt from "./format.js";
import { h } from "./dom.js";
import { toast } from "./components/toast.js";

const TYPE_LABELS = {
  create_vm: "Create VM",
  update_vm: "Change VM",
  delete_vm: "Delete VM",
  start_vm: "Start VM",
  shutdown_vm: "Shut down VM",
  stop_vm: "Turn off VM",
  reset_vm: "Reset VM",
  save_vm: "Save VM",
  pause_vm: "Pause VM",
  resume_vm: "Resume VM",
  create_disk: "Add disk",
  resize_disk: "Grow disk",
  delete_disk: "Remove disk",
  create_nic: "Add network adapter",
  update_nic: "Change network adapter",
  delete_nic: "Remove network adapter",
  managed_deployment: "Deploy VM",
  noop: "Round trip",
};

/** Every job type, in the order filters list them. */
export const JOB_TYPES = Object.keys(TYPE_LABELS);

/** Every job state, in lifecycle order. */
export const JOB_STATES = ["pending", "waiting", "running", "succeeded", "failed", "cancelled"];

const STATE_LABELS = { pending: "Pending", waiting: "Waiting", running: "Running", succeeded: "Succeeded", failed: "Failed", cancelled: "Cancelled", skipped: "Skipped" };

/** A job type's label ("Deploy VM"). */
export function typeLabel(type) {
  return TYPE_LABELS[type] || type;
}

/** A job or step state's label. */
export function stateLabel(state) {
  return STATE_LABELS[state] || state;
}

/** The tone of a job or step state. */
export function stateTone(state) {
  switch (state) {
    case "succeeded":
      return "ok";
    case "failed":
      return "bad";
    case "cancelled":
    case "skipped":
      return "neutral";
    case "waiting":
      return "warn";
    default:
      return "info";
  }
}

/** Whether a job in this state is over (it may still be retried). */
export function finished(state) {
  return state === "succeeded" || state === "failed" || state === "cancelled";
}

/** Whether a job in this state can be cancelled. */
export function cancellable(job) {
  return !finished(job.state) && !job.cancel_requested;
}

/** Whether a job in this state can be retried. */
export function retryable(job) {
  return job.state === "failed" || job.state === "cancelled";
}

/** What the job works on, for people: the VM's name, else the spec's VM name, else the host. */
export function target(job) {
  return job.vm_name || job.spec?.vm?.name || fmt.shortHost(job.host);
}

/** "Deploy VM · web-01". */
export function title(job) {
  return `${typeLabel(job.type)} · ${target(job)}`;
}

const WAITING = { vm_busy: "another job on this VM", host_busy: "the host is busy", host_not_ready: "the host is not ready", other: "its turn" };

/** Why a waiting job waits, in words. */
export function waitingText(job) {
  if (!job.waiting) return null;
  return job.waiting.text || `Waiting for ${WAITING[job.waiting.reason] || "its turn"}`;
}

/** How long the job has run (or ran), in seconds; null before it started. */
export function elapsed(job, now = Date.now()) {
  const start = Date.parse(job.started_at || "");
  if (Number.isNaN(start)) return null;
  const end = job.finished_at ? Date.parse(job.finished_at) : now;
  return Math.max(0, (end - start) / 1000);
}

/**
 * Applies one `jobs`/`jobs:<id>` event to `job` (mutated and returned). Events already
 * reflected (event id at or below `job.last_event_id`) are skipped, so a REST read and a
 * replay that overlap never apply twice.
 */
export function applyEvent(job, frame) {
  const id = Number(frame.event_id ?? frame.cursor);
  if (Number.isFinite(id) && Number.isFinite(Number(job.last_event_id)) && id <= Number(job.last_event_id)) return job;
  const data = frame.data || {};
  switch (frame.kind) {
    case "job_created":
      Object.assign(job, data, { output: job.output || [] });
      break;
    case "job_state_changed": {
      const retried = data.attempt !== undefined && data.attempt > (job.attempt || 0);
      job.state = data.state;
      job.waiting = data.waiting ?? null;
      job.error = data.error ?? null;
      if (data.attempt !== undefined) job.attempt = data.attempt;
      if (retried) {
        job.finished_at = null;
        job.cancel_requested = false;
      }
      if (data.state === "running" && !job.started_at) job.started_at = data.time;
      if (finished(data.state)) job.finished_at = data.time || job.finished_at;
      break;
    }
    case "job_step_changed": {
      const step = data.step;
      if (!step) break;
      job.steps = job.steps || [];
      job.steps[step.index] = step;
      break;
    }
    case "job_output":
      if (job.output) job.output.push(...(data.lines || []));
      break;
    case "job_progress": {
      if (data.percent !== undefined) job.percent = data.percent;
      const step = job.steps?.[data.step_index];
      if (step) {
        if (data.step_percent !== undefined) step.percent = data.step_percent;
        if (data.step_text !== undefined) step.progress_step = data.step_text;
      }
      break;
    }
    default:
      break;
  }
  if (Number.isFinite(id)) {
    job.last_event_id = id;
    job.cursor = String(frame.cursor ?? id);
  }
  return job;
}

// ---- jobs submitted from this browser ----

const MINE_KEY = "aetherv.myJobs";
const MINE_MAX = 200;
const MINE_DAYS = 7;

function readMine() {
  try {
    const parsed = JSON.parse(localStorage.getItem(MINE_KEY) || "{}");
    return parsed && typeof parsed === "object" ? parsed : {};
  } catch {
    return {};
  }
}

function writeMine(mine) {
  const cutoff = Date.now() - MINE_DAYS * 86400000;
  const kept = Object.entries(mine)
    .filter(([, entry]) => entry && entry.at > cutoff)
    .sort((a, b) => b[1].at - a[1].at)
    .slice(0, MINE_MAX);
  try {
    localStorage.setItem(MINE_KEY, JSON.stringify(Object.fromEntries(kept)));
  } catch {
    // Storage full or disabled: the toast is a convenience.
  }
}

/** Remembers a job submitted from this browser (`job`: the Job of a 202 answer). */
export function remember(job) {
  if (!job || !job.id) return;
  const mine = readMine();
  mine[job.id] = { title: title(job), at: Date.now(), announced: false };
  writeMine(mine);
}

/** Whether this browser submitted the job. */
export function isMine(id) {
  return Boolean(readMine()[id]);
}

/**
 * The tab's subscription to the `jobs` topic. Re-emits every frame as `event` (detail:
 * the frame) and `resync`; announces the end of this browser's jobs with a toast.
 */
export class JobFeed extends EventTarget {
  constructor(live) {
    super();
    this.live = live;
    this.subscription = null;
    this.status = null;
  }

  /** Subscribes (live from now on; a reconnect resumes after the last event). */
  start() {
    if (this.subscription) return;
    this.subscription = this.live.topic("jobs", {
      event: (frame) => {
        if (frame.kind === "job_state_changed" && finished(frame.data?.state)) this.announce(frame.data);
        this.dispatchEvent(new CustomEvent("event", { detail: frame }));
      },
      resync: (frame) => this.dispatchEvent(new CustomEvent("resync", { detail: frame })),
      status: (frame) => {
        this.status = frame;
        this.dispatchEvent(new CustomEvent("status", { detail: frame }));
      },
    });
  }

  announce(data) {
    const mine = readMine();
    const entry = mine[data.job_id];
    if (!entry) return;
    // Every tab of this browser sees the event; a retried job may finish again.
    const key = `${data.state}:${data.attempt || 1}`;
    if (entry.announced === key) return;
    entry.announced = key;
    writeMine(mine);
    const tone = data.state === "succeeded" ? "ok" : data.state === "failed" ? "bad" : "warn";
    const verb = data.state === "succeeded" ? "finished" : data.state === "failed" ? "failed" : "was cancelled";
    toast({
      tone,
      title: `${entry.title} ${verb}`,
      body: data.state === "failed" && data.error?.message ? data.error.message : null,
      action: h("a", { href: `/jobs/${encodeURIComponent(data.job_id)}`, class: "toast-link" }, "View the job"),
      timeout: data.state === "succeeded" ? 8000 : 0,
    });
  }
}
