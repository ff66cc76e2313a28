// The job page (`/jobs/{id}`): what the job does and where, its state (and why it waits),
// the step tracker with each step's state and progress, its live output (follow, copy),
// cancel and retry, the resources it created, and its spec as the service keeps it
// (secrets redacted). Loads GET /api/v1/jobs/{id} and follows `jobs:<id>` from the job's
// cursor, so nothing between the read and the subscription is lost; when the gateway
// follows too many jobs already it falls back to the tab's `jobs` feed.

import { get, post, segment, describeError, ApiError } from "../api.js";
import { h, replace, icon, throttle } from "../dom.js";
import * as fmt from "../format.js";
import * as jobs from "../jobs.js";
import { setTitle } from "../router.js";
import { panel, facts, timeText, errorBox, loading, alert, pageHeader, scrollBox, empty } from "../components/common.js";
import { jobBadge, progress, startDurationTicker } from "../components/jobui.js";
import { confirm } from "../components/dialog.js";
import { toast } from "../components/toast.js";

const LEVELS = { debug: "neutral", info: "info", warning: "warn", error: "bad" };

function clock(iso) {
  const then = Date.parse(iso || "");
  if (Number.isNaN(then)) return "--:--:--";
  return new Date(then).toLocaleTimeString(undefined, { hour12: false });
}

function stepIcon(state) {
  const symbols = { succeeded: "✓", failed: "✕", cancelled: "–", skipped: "↷", running: "", pending: "" };
  return h("span", { class: ["step-icon", `tone-${jobs.stateTone(state)}`, state === "running" && "step-icon-busy"], "aria-hidden": "true" }, symbols[state] ?? "");
}

function stepsList(job) {
  if (!job.steps?.length) return empty("No steps planned yet.");
  return h(
    "ol",
    { class: "steps" },
    job.steps.map((step) => {
      const seconds = step.started_at ? ((step.finished_at ? Date.parse(step.finished_at) : Date.now()) - Date.parse(step.started_at)) / 1000 : null;
      return h(
        "li",
        { class: ["step", `step-${step.state}`], dataset: { stepState: step.state, stepIndex: step.index } },
        stepIcon(step.state),
        h(
          "div",
          { class: "step-body" },
          h("p", { class: "step-title" }, h("span", { class: "step-name" }, step.name), " ", jobBadge(step.state)),
          h("p", { class: "step-meta muted" }, h("span", { class: "mono" }, step.operation), step.attempt > 1 ? ` · attempt ${step.attempt}` : "", seconds !== null ? ` · ${fmt.seconds(seconds)}` : ""),
          step.state === "running"
            ? h("div", { class: "step-progress" }, progress(step.percent, `${step.name}: ${Math.round(step.percent || 0)}% done`), h("span", { class: "muted" }, `${Math.round(step.percent || 0)}%${step.progress_step ? ` · ${step.progress_step}` : ""}`))
            : null,
          step.error ? h("p", { class: "step-error tone-text-bad" }, step.error.message, step.error.code ? h("span", { class: "muted" }, ` (${step.error.code})`) : null) : null,
        ),
      );
    }),
  );
}

function resourcesTable(job) {
  const list = job.created_resources || [];
  if (!list.length) return h("p", { class: "muted" }, jobs.finished(job.state) ? "This job created nothing." : "Nothing created yet.");
  const link = (resource) => {
    if (resource.kind === "vm") return h("a", { href: `/vms/${segment(resource.id)}` }, resource.name || resource.id);
    if (resource.kind === "host") return h("a", { href: `/hosts/${segment(resource.id)}` }, resource.name || resource.id);
    return resource.name || resource.id;
  };
  return scrollBox(
    "Created resources",
    h(
      "table",
      { class: "data-table" },
      h("caption", { class: "visually-hidden" }, "Resources this job created"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Kind"), h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "Step"), h("th", { scope: "col", class: "col-path" }, "Id"))),
      h(
        "tbody",
        {},
        list.map((resource) =>
          h(
            "tr",
            {},
            h("td", {}, { vm: "VM", disk: "Disk", nic: "Network adapter" }[resource.kind] || resource.kind),
            h("td", {}, link(resource)),
            h("td", {}, job.steps?.[resource.step_index]?.name || (resource.step_index ?? "—")),
            h("td", { class: "mono col-path", title: resource.id }, h("span", { class: "path" }, resource.id)),
          ),
        ),
      ),
    ),
  );
}

export function mount(container, { params, ctx }) {
  const { live, jobs: feed } = ctx;
  const id = params[0] || "";
  let job = null;
  let subscription = null;
  let usingFeed = false;
  let controller = null;
  let gone = false;
  let left = false;
  let follow = true;
  const root = h("div", { class: "job-page" });
  const top = h("div");
  const log = h("div", { class: "log mono", role: "log", tabindex: "0", "aria-label": "Job output", "aria-live": "off" });
  const logCount = h("span", { class: "muted log-count" });
  const copied = h("span", { class: "muted copy-status", role: "status" });
  const followBox = h("input", { type: "checkbox", id: "job-follow", checked: true });
  const copyButton = h("button", { type: "button", class: "button button-small", id: "job-copy" }, "Copy");
  const truncated = h("p", { class: "muted log-truncated", hidden: true }, "Earlier lines were dropped: the service keeps the last part of long outputs.");
  const outputPanel = panel(
    "Output",
    { id: "job-output", actions: h("div", { class: "log-actions" }, logCount, h("label", { class: "check", for: "job-follow" }, followBox, h("span", {}, "Follow")), copyButton, copied) },
    truncated,
    log,
  );
  const resourcesBox = h("div");
  const specBox = h("pre", { class: "spec-preview mono", tabindex: "0", "aria-label": "The job's spec (JSON)" });
  replace(container, root);
  replace(root, loading("Loading the job…"));
  setTitle("Job");
  startDurationTicker();

  followBox.addEventListener("change", () => {
    follow = followBox.checked;
    if (follow) log.scrollTop = log.scrollHeight;
  });
  log.addEventListener("scroll", () => {
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 8;
    if (follow !== atBottom && document.activeElement === log) {
      follow = atBottom;
      followBox.checked = atBottom;
    }
  });
  copyButton.addEventListener("click", async () => {
    const text = (job?.output || []).map((line) => `${line.time || ""} ${line.level.toUpperCase()} ${line.step_index !== null && line.step_index !== undefined ? `[${job.steps?.[line.step_index]?.name || line.step_index}] ` : ""}${line.text}`).join("\n");
    try {
      await navigator.clipboard.writeText(text);
      copied.textContent = `Copied ${fmt.plural(job.output.length, "line")}.`;
    } catch {
      // No clipboard permission (an http origin other than localhost): select the text instead.
      const range = document.createRange();
      range.selectNodeContents(log);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      copied.textContent = "Selected: press Ctrl+C to copy.";
    }
    setTimeout(() => (copied.textContent = ""), 4000);
  });

  function lineNode(line) {
    const step = line.step_index !== null && line.step_index !== undefined ? job.steps?.[line.step_index] : null;
    return h(
      "div",
      { class: ["log-line", `log-${line.level}`] },
      h("time", { class: "log-time", datetime: line.time, title: line.time }, clock(line.time)),
      h("span", { class: ["log-level", `tone-text-${LEVELS[line.level] || "neutral"}`] }, line.level),
      step ? h("span", { class: "log-step", title: step.name }, step.name) : h("span", { class: "log-step" }),
      h("span", { class: "log-text" }, line.text),
    );
  }

  function renderOutput() {
    replace(log, (job.output || []).map(lineNode));
    if (!job.output?.length) log.append(h("p", { class: "muted log-empty" }, "No output yet."));
    truncated.hidden = !job.output_truncated;
    logCount.textContent = fmt.plural(job.output?.length || 0, "line");
    if (follow) log.scrollTop = log.scrollHeight;
  }

  function appendOutput(lines) {
    if (!lines.length) return;
    log.querySelector(".log-empty")?.remove();
    const fragment = document.createDocumentFragment();
    for (const line of lines) fragment.append(lineNode(line));
    log.append(fragment);
    logCount.textContent = fmt.plural(job.output.length, "line");
    if (follow) log.scrollTop = log.scrollHeight;
  }

  async function cancelJob() {
    const running = job.steps?.find((step) => step.state === "running");
    const ok = await confirm({
      title: `Cancel ${jobs.title(job)}?`,
      message: running ? `The running step (${running.name}) is stopped on ${fmt.shortHost(job.host)}; steps already done stay done.` : "The job has not started: it is taken off the queue.",
      detail: "A cancelled job can be retried later; it continues from the first step that did not succeed.",
      confirmLabel: "Cancel the job",
      tone: "danger",
    });
    if (!ok) return;
    await act("cancel", "Cancel requested");
  }

  async function act(what, said) {
    try {
      const answer = await post(`/jobs/${segment(id)}/${what}`);
      if (answer.job) merge(answer.job);
      if (what === "retry") jobs.remember(answer.job || job);
      toast({ tone: "info", title: said, body: answer.message || null });
      renderTop();
    } catch (error) {
      toast({ tone: "bad", title: what === "retry" ? "Could not retry the job" : "Could not cancel the job", body: describeError(error) });
      if (error instanceof ApiError && error.details?.job_state) reload();
    }
  }

  /** Takes a newer read of the job's fields, keeping the output already shown. */
  function merge(next) {
    const output = job.output;
    const lastEvent = job.last_event_id;
    const cursor = job.cursor;
    Object.assign(job, next, { output, output_truncated: job.output_truncated || next.output_truncated });
    if (Number(lastEvent) > Number(next.last_event_id || 0)) {
      job.last_event_id = lastEvent;
      job.cursor = cursor;
    }
  }

  function renderTop() {
    if (!job) return;
    setTitle(jobs.title(job));
    const actions = h(
      "div",
      { class: "button-group" },
      jobs.cancellable(job) ? h("button", { type: "button", class: "button button-danger", id: "job-cancel", on: { click: cancelJob } }, icon("stop", 14), "Cancel") : null,
      jobs.retryable(job) ? h("button", { type: "button", class: "button button-primary", id: "job-retry", on: { click: () => act("retry", "Retry queued") } }, icon("refresh", 14), "Retry") : null,
    );
    const badges = [jobBadge(job.state)];
    if (job.state === "running") badges.push(h("span", { class: "job-percent muted" }, `${Math.round(job.percent || 0)}%`));
    // A deployment's VM has an id once its first step created it.
    const vmId = job.vm_id || job.created_resources?.find((resource) => resource.kind === "vm")?.id || null;
    const vmLabel = job.vm_name || job.spec?.vm?.name || vmId;
    const vmTarget = (elementId = null) => (vmId ? h("a", { href: `/vms/${segment(vmId)}`, id: elementId }, vmLabel) : vmLabel);
    const header = pageHeader({
      crumbs: [["Overview", "/"], ["Jobs", "/jobs"], [jobs.title(job), null]],
      title: jobs.title(job),
      kicker: "Job",
      badges,
      actions: actions.childElementCount ? actions : null,
      sub: h("p", { class: "muted" }, vmLabel ? ["VM ", vmTarget("job-vm-link"), " on "] : "On ", h("a", { href: `/hosts/${segment(job.host)}` }, job.host)),
    });
    const notices = [];
    if (left) notices.push(alert("info", "This job has left the service's history", h("p", {}, "What you see is its last known state.")));
    if (job.state === "waiting" && job.waiting) {
      notices.push(
        alert(
          "warn",
          jobs.waitingText(job),
          h("p", {}, job.waiting.since ? ["Waiting since ", timeText(job.waiting.since), ". "] : "", job.waiting.blocking_job_id ? ["It runs after ", h("a", { href: `/jobs/${segment(job.waiting.blocking_job_id)}` }, "this job"), "."] : ""),
        ),
      );
    }
    if (job.cancel_requested && !jobs.finished(job.state)) notices.push(alert("info", "Cancel requested", h("p", {}, "The running step is being stopped on the host.")));
    if (job.error && job.state !== "succeeded") {
      notices.push(alert("bad", job.state === "cancelled" ? "Cancelled" : "The job failed", h("p", {}, job.error.message), job.error.code ? h("p", { class: "muted alert-detail" }, job.error.code) : null));
    }
    const duration = jobs.elapsed(job);
    const details = panel(
      "Details",
      { id: "job-facts" },
      facts([
        ["Type", jobs.typeLabel(job.type)],
        ["State", jobBadge(job.state)],
        ["Host", h("a", { href: `/hosts/${segment(job.host)}` }, job.host)],
        ["VM", vmTarget()],
        ["Requested by", job.requester ? [job.requester, jobs.isMine(job.id) ? h("span", { class: "muted" }, " (this browser)") : null] : jobs.isMine(job.id) ? "This browser" : null],
        ["Created", timeText(job.created_at)],
        ["Started", timeText(job.started_at)],
        ["Finished", timeText(job.finished_at)],
        ["Duration", duration === null ? null : h("span", { dataset: jobs.finished(job.state) ? {} : { jobStarted: job.started_at } }, fmt.duration(duration))],
        ["Attempt", job.attempt > 1 ? String(job.attempt) : "1"],
        ["Job id", h("span", { class: "mono" }, job.id)],
      ]),
    );
    const steps = panel(`Steps (${job.steps?.length || 0})`, { id: "job-steps" }, stepsList(job));
    // Live updates rebuild the header: keep the keyboard where it was (Cancel becomes Retry).
    const focused = top.contains(document.activeElement) ? document.activeElement.id : null;
    replace(top, header, ...notices, h("div", { class: "grid-2 job-grid" }, steps, details));
    if (focused) (document.getElementById(focused) || top.querySelector("#job-retry, #job-cancel") || document.getElementById("main"))?.focus();
    replace(resourcesBox, resourcesTable(job));
  }

  const renderSoon = throttle(() => renderTop(), 250);
  const refreshResources = throttle(async () => {
    try {
      const fresh = await get(`/jobs/${segment(id)}`, { params: { output: "false" } });
      if (gone || !job) return;
      const hadVm = job.created_resources?.some((resource) => resource.kind === "vm");
      job.created_resources = fresh.created_resources;
      if (!job.vm_id && fresh.vm_id) job.vm_id = fresh.vm_id;
      if (!hadVm && job.created_resources.some((resource) => resource.kind === "vm")) renderTop();
      else replace(resourcesBox, resourcesTable(job));
    } catch {
      // Shown at the next event or reload.
    }
  }, 1500);

  function apply(frame) {
    if (!job) return;
    const before = Number(job.last_event_id);
    const lines = job.output ? job.output.length : 0;
    jobs.applyEvent(job, frame);
    if (Number(job.last_event_id) === before) return;
    if (frame.kind === "job_output") appendOutput(job.output.slice(lines));
    else renderSoon();
    if (frame.kind === "job_step_changed" && jobs.finished(frame.data?.step?.state)) refreshResources();
    if (frame.kind === "job_state_changed" && jobs.finished(frame.data?.state)) refreshResources();
  }

  const onFeed = (event) => {
    if (usingFeed && event.detail.data?.job_id === id) apply(event.detail);
  };
  const onFeedResync = () => {
    if (usingFeed) reload();
  };

  function subscribe() {
    subscription?.unsubscribe();
    usingFeed = false;
    subscription = live.topic(
      `jobs:${id}`,
      {
        event: apply,
        resync: () => reload(),
        error: (frame) => {
          subscription = null;
          if (frame.error?.code === "NOT_FOUND") {
            left = true;
            renderTop();
          } else {
            // Too many jobs followed one by one at the gateway: filter the jobs feed.
            usingFeed = true;
          }
        },
        ended: () => {
          subscription = null;
          left = true;
          renderTop();
        },
      },
      job.cursor ?? job.last_event_id ?? null,
    );
  }

  async function reload() {
    controller?.abort();
    controller = new AbortController();
    try {
      const fresh = await get(`/jobs/${segment(id)}`, { signal: controller.signal });
      if (gone) return;
      const first = !job;
      job = fresh;
      job.output = job.output || [];
      if (first) {
        replace(
          root,
          top,
          outputPanel,
          panel("Created resources", { id: "job-resources" }, resourcesBox),
          panel("Spec", { id: "job-spec" }, h("p", { class: "muted panel-lead" }, "What was asked, as the jobs service keeps it (secrets are masked)."), specBox),
        );
      }
      specBox.textContent = JSON.stringify(job.spec, null, 2);
      renderTop();
      renderOutput();
      // After a resync the subscription stays and continues past the resync's cursor;
      // events the fresh read already shows are skipped by their ids.
      if (first && !usingFeed) subscribe();
    } catch (error) {
      if (error && error.name === "AbortError") return;
      if (error instanceof ApiError && error.status === 404) {
        setTitle("Job not found");
        replace(
          root,
          pageHeader({ crumbs: [["Overview", "/"], ["Jobs", "/jobs"], ["Not found", null]], title: "Job not found" }),
          alert("warn", "There is no job with this id", h("p", { class: "mono" }, id), h("p", {}, "Finished jobs leave the history after a while. ", h("a", { href: "/jobs" }, "See the jobs"), ".")),
        );
        return;
      }
      replace(root, pageHeader({ crumbs: [["Overview", "/"], ["Jobs", "/jobs"]], title: "Job" }), errorBox(error, reload));
    }
  }

  feed.addEventListener("event", onFeed);
  feed.addEventListener("resync", onFeedResync);
  reload();

  return {
    unmount() {
      gone = true;
      controller?.abort();
      renderSoon.cancel();
      refreshResources.cancel();
      subscription?.unsubscribe();
      feed.removeEventListener("event", onFeed);
      feed.removeEventListener("resync", onFeedResync);
    },
  };
}
