// Pieces that show jobs: state badges, progress bars, links, the table of jobs (the jobs
// list and the VM page's recent jobs), and what happens when a mutation is accepted (the
// job is remembered as this browser's, a toast links to it).

import { h, keyedRows } from "../dom.js";
import * as fmt from "../format.js";
import * as jobs from "../jobs.js";
import { ageText } from "./common.js";
import { toast } from "./toast.js";

/** A job (or step) state badge; running and waiting pulse. */
export function jobBadge(state) {
  return h(
    "span",
    { class: ["badge", `tone-${jobs.stateTone(state)}`, (state === "running" || state === "pending") && "badge-busy"], dataset: { jobState: state } },
    h("span", { class: "badge-dot", "aria-hidden": "true" }),
    jobs.stateLabel(state),
  );
}

/** A progress bar for a percentage (0–100). */
export function progress(percent, label) {
  const value = Math.max(0, Math.min(100, Math.round(percent || 0)));
  const fill = h("span", { class: "bar-seg bar-vm" });
  fill.style.width = `${value}%`;
  return h("span", { class: "bar job-bar", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": String(value), "aria-label": label || `${value}% done` }, fill);
}

/** A link to the job's page. */
export function jobLink(job, text = null) {
  return h("a", { href: `/jobs/${encodeURIComponent(job.id)}` }, text || jobs.title(job));
}

/** A mutation was accepted: remember the job as this browser's and say so with a link. */
export function accepted(answer, what = null) {
  const job = answer.job || { id: answer.job_id };
  jobs.remember(job);
  toast({
    tone: "info",
    title: `${what || jobs.typeLabel(job.type)} queued`,
    body: answer.message || null,
    action: h("a", { href: `/jobs/${encodeURIComponent(answer.job_id)}`, class: "toast-link" }, "Follow the job"),
  });
  return job;
}

function stateCell(job) {
  const text = jobs.waitingText(job);
  return [
    jobBadge(job.state),
    job.state === "running" ? h("span", { class: "job-progress-inline" }, progress(job.percent, `${jobs.title(job)}: ${Math.round(job.percent || 0)}% done`), h("span", { class: "muted" }, ` ${Math.round(job.percent || 0)}%`)) : null,
    job.state === "waiting" && text ? h("span", { class: "muted job-wait", title: text }, text) : null,
    job.state === "failed" && job.error?.message ? h("span", { class: "tone-text-bad job-wait", title: job.error.message }, job.error.message) : null,
  ];
}

function durationCell(job) {
  const seconds = jobs.elapsed(job);
  if (seconds === null) return h("span", { class: "muted" }, "—");
  return h("span", { dataset: jobs.finished(job.state) ? {} : { jobStarted: job.started_at } }, fmt.duration(seconds));
}

/** The columns of a jobs table; `fixed` leaves out what the page already says ({vm, host}). */
function columns(fixed) {
  return [
    { label: "Job", render: (job) => [jobLink(job), jobs.isMine(job.id) ? h("span", { class: "tag tone-info mine-tag", title: "Submitted from this browser" }, "you") : null] },
    { label: "State", className: "col-job-state", render: stateCell },
    !fixed.host && { label: "Host", className: "col-host", render: (job) => h("a", { href: `/hosts/${encodeURIComponent(job.host)}`, title: job.host }, fmt.shortHost(job.host)) },
    { label: "Created", className: "nowrap", render: (job) => ageText(job.created_at) },
    { label: "Duration", className: "num", render: durationCell },
  ].filter(Boolean);
}

/** A table of jobs: {node, tbody, render(jobs)}; rows are rebuilt only when a job changed. */
export function jobsTable({ caption, fixed = {} }) {
  const cols = columns(fixed);
  const tbody = h("tbody");
  const table = h(
    "table",
    { class: "data-table jobs-table" },
    h("caption", { class: "visually-hidden" }, caption),
    h("thead", {}, h("tr", {}, cols.map((col) => h("th", { scope: "col", class: col.className }, col.label)))),
    tbody,
  );
  const render = (list) =>
    keyedRows(
      tbody,
      list,
      (job) => job.id,
      (job) => `${job.state}|${Math.round(job.percent || 0)}|${job.last_event_id}|${job.attempt}`,
      (job) => h("tr", { class: job.state === "failed" ? "row-bad" : null, dataset: { jobId: job.id } }, cols.map((col) => h("td", { class: col.className }, col.render(job)))),
    );
  return { node: table, tbody, render };
}

let durationTicker = null;
/** Keeps running jobs' durations current (one timer for the page). */
export function startDurationTicker() {
  if (durationTicker) return;
  durationTicker = setInterval(() => {
    const now = Date.now();
    for (const node of document.querySelectorAll("[data-job-started]")) {
      const started = Date.parse(node.dataset.jobStarted);
      if (Number.isNaN(started)) continue;
      const text = fmt.duration((now - started) / 1000);
      if (node.textContent !== text) node.textContent = text;
    }
  }, 1000);
}
