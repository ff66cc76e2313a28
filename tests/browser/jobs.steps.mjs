// The browser checks of provisioning, VM changes, jobs and notifications (issue 4), run by
// ui.spec.mjs after its inventory checks, against the same stack and with the simulator's
// control API as the truth:
//   1. the provisioning form is built from the schema and the host's catalogue (hosts by
//      cluster, storage classes, images); invalid values show inline errors as you type,
//      in the field's units; the server's refusal (a taken name) lands on the field;
//   2. a deployment from the form: its job page follows it live (steps, output) to success
//      without a reload, and after a dropped WebSocket resumes from its cursor: every output
//      line once, in order; the VM it created is in the simulator with its disks and
//      adapter; a toast says this browser's job finished;
//   3. the notifications bell counts the finished job's notification; marking it read lowers
//      the count, deleting removes it from the service, "Mark all read" clears the count;
//   4. the new VM's page (from the job): Turn off (confirmed) changes the simulator and shows
//      its job; Delete (force, delete disks) removes the VM from the simulator;
//   5. bulk Start on two VMs that are off and one that runs: per-VM results, two jobs
//      followed to success, one refusal with its reason;
//   6. a VM's settings (processors, notes), a disk (grown; a shrink refused inline) and an
//      adapter (added, removed) change from its page, each as a job, in the simulator;
//   7. the job page's Retry re-runs a failed job (a fault injected in the simulator) to
//      success; Cancel ends a job waiting behind another on the same VM;
//   8. the jobs list filters on the server and shows a new job live;
//   9. phone width in the dark theme: the form and a job page fit;
//   and axe on every new view and dialog (collected by the caller).

import assert from "node:assert/strict";

const GiB = 1073741824;

async function text(locator) {
  return (await locator.innerText()).replace(/\s+/g, " ").trim();
}

async function api(base, path, init = {}) {
  const response = await fetch(`${base}/api/v1${path}`, {
    ...init,
    headers: { "content-type": "application/json", origin: base, ...(init.headers || {}) },
  });
  const body = await response.text();
  if (!response.ok) throw new Error(`${init.method || "GET"} ${path}: ${response.status} ${body}`);
  return body ? JSON.parse(body) : null;
}

/** A field's label: its name, and "(optional)" when it may be left empty. */
function label(name) {
  return new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}( \\(optional\\))?$`);
}

/** The field wrapper of a labelled control on the page. */
function fieldOf(scope, name) {
  return scope.locator(".field", { has: scope.getByLabel(label(name)) }).first();
}

async function waitJob(page, state, timeout) {
  await page.waitForFunction((wanted) => document.querySelector(".page-title .badge")?.dataset.jobState === wanted, state, { timeout });
}

async function vmState(page, state, timeout) {
  await page.waitForFunction((wanted) => document.querySelector(".page-title .badge")?.dataset.state === wanted, state, { timeout });
}

async function until(what, check, timeout) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value) return value;
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * `count` VMs of `host` that are off (others are turned off out of band in the simulator
 * when too few are, never `keep`), as the API shows them.
 */
async function offVms(base, sim, hostName, host, count, keep = []) {
  const list = async () => (await api(base, `/vms?host=${encodeURIComponent(host)}&page_size=100`)).vms.filter((vm) => !vm.stale && !keep.includes(vm.id));
  let off = (await list()).filter((vm) => vm.state === "off");
  if (off.length < count) {
    const running = (await list()).filter((vm) => vm.state === "running").slice(0, count - off.length);
    for (const vm of running) await sim.change(hostName, vm.id, { state: "Off" });
    const wanted = new Set([...off, ...running].map((vm) => vm.id));
    off = await until("the VMs turned off out of band to be off in inventory", async () => {
      const now = (await list()).filter((vm) => wanted.has(vm.id) && vm.state === "off");
      return now.length === wanted.size ? now : null;
    }, 60000);
  }
  return off.slice(0, count);
}

/**
 * Runs the steps. `ctx`: {steps, browser, base, sim, watch, shoot, a11y, pages, hosts,
 * knownHost, known, LIVE_MS}.
 */
export async function jobSteps(ctx) {
  const { steps, browser, base, sim, watch, shoot, a11y, pages, hosts, knownHost, known, LIVE_MS } = ctx;
  const host = knownHost.id;
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, colorScheme: "light" });
  // The only refusals these steps cause on purpose: the taken VM name (409 from POST
  // /deployments), which the browser reports as a failed resource load.
  const watcher = await watch(context, {
    origin: base,
    allow: (message) => /status of 409/.test(message) || /^409 .*\/api\/v1\/deployments$/.test(message),
  });
  const page = await watcher.page("jobs");
  pages.push(page);
  // The page's WebSocket goes through Playwright, so a step can cut it (a network outage
  // between browser and gateway) and let it reconnect.
  let refuse = false;
  const sockets = [];
  await page.routeWebSocket(/\/ws$/, (socket) => {
    if (refuse) {
      socket.close({ code: 1012, reason: "test: gateway unreachable" });
      return;
    }
    sockets.push({ socket, server: socket.connectToServer() });
  });
  const cut = () => {
    refuse = true;
    for (const { socket, server } of sockets.splice(0)) {
      server.close();
      socket.close({ code: 1012, reason: "test: connection lost" });
    }
  };
  const catalogue = await api(base, `/hosts/${encodeURIComponent(host)}/resources`);
  assert.ok(catalogue.storage_classes.length > 0, "the simulated host has storage classes");
  const image = catalogue.images.find((i) => i.os_family === "linux") || catalogue.images[0];
  const network = catalogue.networks[0];
  const vmName = `ui-e2e-${Date.now().toString(36)}`;
  let jobId = null;
  let vmId = null;
  let unreadBefore = 0;

  await steps.run("the provisioning form offers the reachable hosts by cluster and the host's catalogue; invalid values show inline errors as you type", async () => {
    await page.goto(`${base}/vms`);
    await page.click("#new-vm");
    await page.waitForURL(`${base}/vms/new`);
    const select = page.locator("#provision-host-select");
    await page.waitForFunction((n) => document.querySelectorAll("#provision-host-select option[value]:not([value=''])").length === n, hosts.length);
    for (const h of hosts) {
      const group = h.cluster ? `Cluster ${h.cluster}` : "Standalone hosts";
      assert.equal(await page.locator(`#provision-host-select optgroup[label="${group}"] option[value="${h.id}"]`).count(), 1, `${h.id} is offered under ${group}`);
    }
    await select.selectOption(host);
    await page.waitForURL((url) => url.searchParams.get("host") === host);
    await page.waitForSelector("#provision-vm");
    const storage = (await page.getByLabel(label("Storage class")).locator("option").allTextContents()).map((t) => t.split(" · ")[0]);
    assert.deepEqual(storage, catalogue.storage_classes.map((c) => c.name), "storage classes from the catalogue");
    const images = (await page.getByLabel(label("Image")).locator("option").allTextContents()).slice(1).map((t) => t.split(" · ")[0]);
    assert.deepEqual(images, catalogue.images.map((i) => i.name), "images from the catalogue");
    // Inline errors as you type, from the schema (pattern, minimum, multipleOf) in the field's units.
    const name = page.getByLabel(label("Name"));
    await name.fill("web/01");
    await fieldOf(page, "Name").locator(".field-error").waitFor();
    assert.match(await text(fieldOf(page, "Name").locator(".field-error")), /\\ \/ : \*/);
    assert.equal(await name.getAttribute("aria-invalid"), "true");
    const cores = (await api(base, `/hosts/${encodeURIComponent(host)}`)).cpu_cores;
    assert.equal(await text(fieldOf(page, "Virtual processors").locator(".field-limits")), `Allowed: 1–${cores}`, "at most the host's logical processors");
    await page.getByLabel(label("Virtual processors")).fill("0");
    assert.equal(await text(fieldOf(page, "Virtual processors").locator(".field-error")), "Must be at least 1.");
    const memory = fieldOf(page, "Startup memory");
    await memory.getByRole("spinbutton").fill("33");
    await memory.getByRole("combobox").selectOption({ label: "MiB" });
    assert.equal(await text(memory.locator(".field-error")), "Must be a whole multiple of 2 MiB.");
    await memory.getByRole("spinbutton").fill("16");
    assert.equal(await text(memory.locator(".field-error")), "Must be at least 32 MiB.");
    await shoot(page, "17-provision-form-errors");
    await a11y(page, "provisioning form with errors");
    await name.fill(vmName);
    await page.getByLabel(label("Virtual processors")).fill("2");
    await memory.getByRole("spinbutton").fill("2048");
    assert.equal(await page.locator(".spec-form .field-error:not([hidden])").count(), 0, "no errors once fixed");
  });

  await steps.run("the server's refusal of a taken VM name shows on the name field", async () => {
    const name = page.getByLabel(label("Name"));
    await name.fill(known.name);
    await page.click("#provision-submit");
    await fieldOf(page, "Name").locator(".field-error").waitFor({ timeout: 15000 });
    assert.match(await text(fieldOf(page, "Name").locator(".field-error")), new RegExp(`exists on host ${host.replace(/\./g, "\\.")}`, "i"));
    assert.match(await text(page.locator(".form-summary")), /Name:/);
    assert.equal(new URL(page.url()).pathname, "/vms/new", "nothing was queued");
    await name.fill(vmName);
    assert.equal(await fieldOf(page, "Name").locator(".field-error").isHidden(), true, "the server's word goes once the name changes");
  });

  await steps.run("a deployment from the form: its job page follows it live to success, resuming without gaps or repeats after a dropped WebSocket; the VM is in the simulator", async () => {
    unreadBefore = (await api(base, "/notifications?limit=1")).unread_count;
    // Adding the adapter takes 3 s more on the host, so the job runs while the page is cut off.
    const knobs = `/hosts/${encodeURIComponent(knownHost.name)}/knobs`;
    await sim.call("PATCH", knobs, { operation_latency_ms: { "nic.create": 3000 } });
    await page.getByLabel(label("Image")).selectOption(image.name);
    await page.getByRole("button", { name: "Add a disk" }).click();
    const disk = page.locator("#provision-disks .list-row").first();
    await disk.getByRole("spinbutton").fill("1");
    assert.equal(await page.locator("#provision-nics .list-row").count(), 1, "one network adapter to start with");
    await page.locator("#provision-nics").getByLabel(label("Network")).selectOption(network.name);
    const spec = JSON.parse(await page.locator(".spec-preview").textContent());
    assert.deepEqual(spec.disks, [{ size_bytes: GiB, type: "Dynamic", controller_type: "SCSI" }], "the disk row in the spec");
    assert.deepEqual(spec.nics, [{ network: network.name }], "the adapter row in the spec");
    assert.equal(spec.vm.memory_startup_bytes, 2048 * 1048576, "sizes are sent in bytes");
    await page.click("#provision-submit");
    await page.waitForURL(/\/jobs\/job-[^/]+$/, { timeout: 15000 });
    jobId = decodeURIComponent(new URL(page.url()).pathname.split("/").pop());
    await page.evaluate(() => {
      window.__aethervMarker = "job-page";
    });
    await page.waitForSelector("#job-steps .step");
    await shoot(page, "18-job-page-running");
    try {
      cut();
      await page.waitForSelector("#connection[data-state=offline]", { timeout: 10000 });
      await until("the job to finish while the page is offline", async () => (await api(base, `/jobs/${jobId}?output=false`)).state === "succeeded", LIVE_MS);
      assert.notEqual(await page.locator(".page-title .badge").getAttribute("data-job-state"), "succeeded", "the page missed the end while offline");
    } finally {
      refuse = false;
      await sim.call("POST", `${knobs}/reset`);
    }
    await page.waitForSelector("#connection[data-state=live]", { timeout: 30000 });
    await waitJob(page, "succeeded", LIVE_MS);
    const told = (await api(base, `/jobs/${jobId}`)).output.map((line) => line.text);
    await page.waitForFunction((n) => document.querySelectorAll("#job-output .log-line").length >= n, told.length, { timeout: 10000 });
    const shown = await page.locator("#job-output .log-text").allTextContents();
    assert.deepEqual(shown, told, "every output line once, in order, after the reconnect");
    const states = await page.locator("#job-steps .step").evaluateAll((nodes) => nodes.map((n) => n.dataset.stepState));
    assert.equal(states.length, 5, "create VM, clone the boot disk, create the disk, add the adapter, start");
    assert.ok(states.every((s) => s === "succeeded"), `every step succeeded (${states.join(", ")})`);
    assert.ok((await page.locator("#job-output .log-line").count()) > 5, "the output streamed in");
    assert.match(await text(page.locator("#job-output .log")), /succeeded/);
    assert.equal(await page.evaluate(() => window.__aethervMarker), "job-page", "the page followed the job without a reload");
    await page.locator("#job-resources a[href^='/vms/']").waitFor({ timeout: 10000 });
    vmId = decodeURIComponent((await page.locator("#job-resources a[href^='/vms/']").getAttribute("href")).split("/").pop());
    await page.locator(".toast", { hasText: "finished" }).waitFor({ timeout: 10000 });
    const truth = await sim.vm(knownHost.name, vmId);
    assert.equal(truth.vm.name, vmName);
    assert.equal(truth.vm.disks.length, 2, "boot disk and the added disk");
    assert.equal(truth.vm.nics.length, 1, "one network adapter");
    await shoot(page, "19-job-page-succeeded");
    await a11y(page, "job page");
  });

  await steps.run("the notifications bell counts the finished job; mark read lowers the count, delete removes it, mark all read clears the count", async () => {
    const unread = await until("the bell to match the service's unread count", async () => {
      const count = (await api(base, "/notifications?limit=1")).unread_count;
      const shown = Number(await page.locator("#bell").getAttribute("data-unread"));
      return shown === count && count >= unreadBefore + 1 ? count : null;
    }, 15000);
    assert.match(await page.locator("#bell").getAttribute("aria-label"), new RegExp(`${unread} unread`));
    await page.click("#bell");
    const item = page.locator(".notification", { has: page.locator(`a[href="/jobs/${jobId}"]`) });
    await item.waitFor();
    assert.equal(await item.getAttribute("data-level"), "success");
    assert.match(await item.getAttribute("class"), /is-unread/);
    await shoot(page, "20-notifications-panel", { fullPage: false });
    await a11y(page, "notifications panel");
    await item.locator("button[aria-label^='Mark read']").click();
    await page.waitForFunction((n) => Number(document.querySelector("#bell")?.dataset.unread) === n, unread - 1, { timeout: 10000 });
    assert.equal((await api(base, "/notifications?limit=1")).unread_count, unread - 1);
    assert.match(await item.getAttribute("class"), /is-read/);
    const id = await item.getAttribute("data-id");
    await item.locator("button[aria-label^='Delete']").click();
    await item.waitFor({ state: "detached" });
    assert.ok(!(await api(base, "/notifications?limit=1000")).notifications.some((n) => n.id === id), "deleted in the service");
    await page.click("#notifications-read-all");
    await page.waitForFunction(() => document.querySelector("#bell")?.dataset.unread === "0", null, { timeout: 10000 });
    assert.equal(await page.locator("#bell .bell-count").isHidden(), true, "no count on the bell");
    assert.equal((await api(base, "/notifications?limit=1")).unread_count, 0);
    await page.keyboard.press("Escape");
    assert.equal(await page.locator("#notifications-panel").isHidden(), true, "Escape closes the panel");
  });

  await steps.run("the new VM's page: Turn off (confirmed) shows its job and changes the simulator; Delete removes the VM", async () => {
    await page.click("#job-vm-link");
    await page.waitForURL(`${base}/vms/${vmId}`);
    await page.waitForSelector("#vm-summary");
    await vmState(page, "running", LIVE_MS);
    await page.click('button[data-action="stop"]');
    await page.locator('dialog[open] button[value="confirm"]').click();
    await page.waitForFunction(() => /done/i.test(document.querySelector(".power-result")?.textContent || ""), null, { timeout: LIVE_MS });
    assert.ok(await page.locator(".power-result a[href^='/jobs/']").count(), "the result links its job");
    await vmState(page, "off", LIVE_MS);
    assert.equal((await sim.vm(knownHost.name, vmId)).vm.state, "Off");
    await page.locator("#vm-jobs tr", { hasText: "Turn off VM" }).locator('[data-job-state="succeeded"]').waitFor({ timeout: LIVE_MS });
    await shoot(page, "21-vm-page-after-turn-off");
    await a11y(page, "vm page with its jobs");
    await page.click("#vm-delete");
    const dialog = page.locator("dialog[open]");
    await dialog.waitFor();
    assert.match(await text(dialog), new RegExp(`Delete ${vmName}\\?`));
    assert.equal(await dialog.getByLabel("Turn it off first (force)").isChecked(), false, "no force needed for a VM that is off");
    await dialog.getByLabel(/Delete its 2 virtual disk files too/).check();
    await shoot(page, "22-delete-dialog", { fullPage: false });
    await a11y(page, "delete dialog");
    await dialog.getByRole("button", { name: "Delete VM" }).click();
    await dialog.waitFor({ state: "detached" });
    await page.locator(".alert", { hasText: "This VM no longer exists" }).waitFor({ timeout: LIVE_MS });
    const left = await sim.vms(knownHost.name);
    assert.ok(!left.some((vm) => vm.id === vmId), "the simulator has no such VM any more");
  });

  await steps.run("bulk Start on two VMs that are off and one that runs: per-VM results, two jobs to success, one refusal", async () => {
    const off = await offVms(base, sim, knownHost.name, host, 2);
    const running = (await api(base, `/vms?host=${encodeURIComponent(host)}&state=running&page_size=1`)).vms[0];
    assert.ok(running, "a running VM on the host");
    await page.goto(`${base}/vms?host=${encodeURIComponent(host)}`);
    await page.waitForSelector(".vm-table tbody tr");
    for (const vm of [...off, running]) await page.locator(`.vm-table tbody input[data-vm-id="${vm.id}"]`).check();
    await page.locator(".bulk-bar .bulk-count", { hasText: "3 VMs selected" }).waitFor();
    await shoot(page, "23-vm-table-bulk-selection", { fullPage: false });
    await page.click('.bulk-bar [data-bulk-action="start"]');
    const confirmDialog = page.locator("dialog[open]");
    await confirmDialog.waitFor();
    assert.match(await text(confirmDialog), new RegExp(`${running.name} \\(running\\)`), "the confirmation says which VM cannot start");
    await confirmDialog.locator('button[value="confirm"]').click();
    const results = page.locator("dialog[open] .bulk-results");
    await results.waitFor({ timeout: 15000 });
    for (const vm of off) {
      const row = results.locator(`tr[data-vm-id="${vm.id}"]`);
      assert.equal(await row.getAttribute("data-status"), "accepted");
      await row.locator('a[href^="/jobs/"]').waitFor();
      await row.locator('[data-job-state="succeeded"]').waitFor({ timeout: LIVE_MS });
    }
    const refused = results.locator(`tr[data-vm-id="${running.id}"]`);
    assert.equal(await refused.getAttribute("data-status"), "refused");
    assert.match(await text(refused), /running/i, "the refusal names the state");
    await shoot(page, "24-bulk-results", { fullPage: false });
    await a11y(page, "bulk results dialog");
    await page.locator('dialog[open] button[value="close"]').click();
    for (const vm of off) assert.equal((await sim.vm(knownHost.name, vm.id)).vm.state, "Running", `${vm.name} runs in the simulator`);
    assert.equal(await page.locator(".bulk-bar").isHidden(), true, "the selection was cleared");
  });

  await steps.run("a VM's settings, disks and adapters change from its page, each as a job seen in the simulator; a shrink is refused inline", async () => {
    const [vm] = await offVms(base, sim, knownHost.name, host, 1);
    const before = (await sim.vm(knownHost.name, vm.id)).vm;
    await page.goto(`${base}/vms/${vm.id}`);
    await page.waitForSelector("#vm-summary");
    const done = async (what) => {
      await page.locator(".toast", { hasText: `${what} queued` }).first().waitFor({ timeout: 15000 });
      await page.waitForFunction(() => ![...document.querySelectorAll("#vm-jobs [data-job-state]")].some((n) => ["pending", "waiting", "running"].includes(n.dataset.jobState)), null, { timeout: LIVE_MS });
    };
    // Settings: processors (the VM is off) and notes.
    await page.click("#vm-edit");
    let dialog = page.locator("dialog[open]");
    await dialog.getByRole("spinbutton", { name: "Virtual processors" }).fill(String(before.cpu_count + 1));
    const notes = `set by the browser test at ${new Date().toISOString()}`;
    await dialog.locator("textarea").fill(notes);
    assert.match(await text(dialog.locator(".dialog-note")), /2 changes to send/);
    await shoot(page, "31-vm-settings-dialog", { fullPage: false });
    await a11y(page, "vm settings dialog");
    await dialog.getByRole("button", { name: "Save changes" }).click();
    await dialog.waitFor({ state: "detached" });
    await done(`Changes to ${vm.name}`);
    await page.locator("#vm-notes", { hasText: notes }).waitFor({ timeout: LIVE_MS });
    const changed = (await sim.vm(knownHost.name, vm.id)).vm;
    assert.equal(changed.cpu_count, before.cpu_count + 1);
    assert.equal(changed.notes, notes);
    // Grow the first disk by 1 GiB; a smaller size is refused before anything is sent.
    const disk = before.disks[0];
    await page.locator("#vm-disks tbody tr", { hasText: disk.name }).getByRole("button", { name: /^Grow/ }).click();
    dialog = page.locator("dialog[open]");
    const size = dialog.getByRole("spinbutton");
    await dialog.getByRole("combobox").selectOption({ label: "MiB" });
    await size.fill(String(disk.capacity_bytes / 1048576 - 1024));
    assert.match(await text(dialog.locator(".field-error")), /never shrinks/);
    await size.fill(String(disk.capacity_bytes / 1048576 + 1024));
    await dialog.getByRole("button", { name: "Grow disk" }).click();
    await dialog.waitFor({ state: "detached" });
    await done(`Grow ${disk.name}`);
    await until("the disk to have grown in the simulator", async () => (await sim.vm(knownHost.name, vm.id)).vm.disks.find((d) => d.id === disk.id)?.capacity_bytes === disk.capacity_bytes + GiB, LIVE_MS);
    // Add a network adapter on another network, then remove it.
    const other = catalogue.networks[1] || catalogue.networks[0];
    await page.click("#vm-add-nic");
    dialog = page.locator("dialog[open]");
    await dialog.getByLabel(label("Network")).selectOption(other.name);
    await dialog.getByRole("button", { name: "Add adapter" }).click();
    await dialog.waitFor({ state: "detached" });
    await done(`Add adapter to ${vm.name}`);
    await page.waitForFunction((n) => document.querySelectorAll("#vm-nics tbody tr").length === n, before.nics.length + 1, { timeout: LIVE_MS });
    const added = (await sim.vm(knownHost.name, vm.id)).vm.nics.find((n) => !before.nics.some((b) => b.id === n.id));
    assert.equal(added?.network_name, other.name, "the new adapter is on the chosen network");
    await page.locator("#vm-nics tbody tr").last().getByRole("button", { name: /^Remove/ }).click();
    await page.locator('dialog[open] button[value="confirm"]').click();
    await page.waitForFunction((n) => document.querySelectorAll("#vm-nics tbody tr").length === n, before.nics.length, { timeout: LIVE_MS });
    assert.ok(!(await sim.vm(knownHost.name, vm.id)).vm.nics.some((n) => n.id === added.id), "the adapter is gone in the simulator");
    await shoot(page, "32-vm-page-after-changes");
  });

  await steps.run("Retry re-runs a failed job to success; Cancel ends a job waiting behind another", async () => {
    const [first, second] = await offVms(base, sim, knownHost.name, host, 2);
    const knobs = `/hosts/${encodeURIComponent(knownHost.name)}/knobs`;
    try {
      await sim.call("PATCH", knobs, { fail_next: [{ count: 1, operation: "vm.power", code: "OPERATION_FAILED", message: "injected by the browser test" }] });
      const failing = await api(base, `/vms/${first.id}/start`, { method: "POST", body: "{}" });
      await page.goto(`${base}/jobs/${failing.job_id}`);
      await waitJob(page, "failed", LIVE_MS);
      assert.match(await text(page.locator(".alert.tone-bad")), /injected by the browser test/);
      assert.equal(await page.locator("#job-steps .step").first().getAttribute("data-step-state"), "failed");
      await shoot(page, "25-job-page-failed");
      await page.click("#job-retry");
      await waitJob(page, "succeeded", LIVE_MS);
      assert.match(await text(page.locator("#job-facts")), /Attempt 2/);
      assert.equal((await sim.vm(knownHost.name, first.id)).vm.state, "Running");

      // A slow start holds the VM; a turn-off queued behind it waits and is cancelled.
      await sim.call("PATCH", knobs, { operation_latency_ms: { "vm.power": 8000 } });
      await api(base, `/vms/${second.id}/start`, { method: "POST", body: "{}" });
      const waiting = await api(base, `/vms/${second.id}/stop`, { method: "POST", body: "{}" });
      await page.goto(`${base}/jobs/${waiting.job_id}`);
      await page.waitForSelector("#job-cancel");
      await page.waitForFunction(() => ["pending", "waiting"].includes(document.querySelector(".page-title .badge")?.dataset.jobState));
      await shoot(page, "26-job-page-waiting", { fullPage: false });
      await page.click("#job-cancel");
      await page.locator('dialog[open] button[value="confirm"]').click();
      await waitJob(page, "cancelled", LIVE_MS);
      assert.equal(await page.locator("#job-retry").count(), 1, "a cancelled job can be retried");
      assert.equal(await page.locator("#job-cancel").count(), 0);
    } finally {
      await sim.call("POST", `${knobs}/reset`);
    }
  });

  await steps.run("the jobs list filters on the server and shows a new job live", async () => {
    await page.goto(`${base}/jobs`);
    await page.waitForSelector(".jobs-table tbody tr");
    assert.ok(await page.locator(`.jobs-table tr[data-job-id="${jobId}"]`).count(), "the deployment is listed");
    await page.selectOption('select[aria-label="Type"]', "managed_deployment");
    await page.waitForURL((url) => url.searchParams.get("type") === "managed_deployment");
    await page.waitForFunction(() => [...document.querySelectorAll(".jobs-table tbody tr td:first-child a")].every((a) => a.textContent.startsWith("Deploy VM")));
    await page.selectOption('select[aria-label="State"]', "failed,cancelled");
    await page.waitForURL((url) => url.searchParams.get("state") === "failed,cancelled");
    await page.waitForFunction((id) => !document.querySelector(`.jobs-table tr[data-job-id="${id}"]`), jobId);
    await page.click("text=Clear filters");
    await page.waitForURL(`${base}/jobs`);
    await page.waitForSelector(`.jobs-table tr[data-job-id="${jobId}"]`);
    await page.evaluate(() => {
      window.__aethervMarker = "jobs-list";
    });
    const vm = (await api(base, `/vms?host=${encodeURIComponent(host)}&state=running&page_size=1`)).vms[0];
    const created = await api(base, `/vms/${vm.id}/stop`, { method: "POST", body: "{}" });
    const row = page.locator(`.jobs-table tr[data-job-id="${created.job_id}"]`);
    await row.waitFor({ timeout: LIVE_MS });
    await row.locator('[data-job-state="succeeded"]').waitFor({ timeout: LIVE_MS });
    assert.equal(await page.evaluate(() => window.__aethervMarker), "jobs-list", "no reload");
    await shoot(page, "27-jobs-list");
    await a11y(page, "jobs list");
  });

  await steps.run("phone width, dark: the provisioning form and a job page fit", async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, colorScheme: "dark" });
    const phoneWatch = await watch(phone, { origin: base });
    const small = await phoneWatch.page("phone-jobs");
    await small.goto(`${base}/vms/new?host=${encodeURIComponent(host)}`);
    await small.waitForSelector("#provision-vm");
    await small.getByLabel(label("Name")).fill("bad/name");
    // A deep link: the fleet loads after the form, and the host's limits still apply.
    const cores = (await api(base, `/hosts/${encodeURIComponent(host)}`)).cpu_cores;
    await small.locator(".field", { has: small.getByLabel(label("Virtual processors")) }).locator(".field-limits", { hasText: `Allowed: 1–${cores}` }).waitFor();
    const overflow = () => small.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok((await overflow()) <= 1, "the form fits");
    await shoot(small, "28-phone-provision-dark");
    await a11y(small, "phone provisioning form (dark)");
    await small.goto(`${base}/jobs/${jobId}`);
    await small.waitForSelector("#job-steps .step");
    assert.ok((await overflow()) <= 1, "the job page fits");
    await shoot(small, "29-phone-job-dark");
    await a11y(small, "phone job page (dark)");
    await small.click("#bell");
    await small.waitForSelector("#notifications-panel:not([hidden])");
    await shoot(small, "30-phone-notifications-dark", { fullPage: false });
    await a11y(small, "phone notifications (dark)");
    const problems = await phoneWatch.problems([small]);
    await phone.close();
    assert.deepEqual(problems, []);
  });

  await steps.run("no console errors, uncaught exceptions, CSP violations or failed requests in the jobs steps", async () => {
    assert.deepEqual(await watcher.problems([page]), []);
    await context.close();
  });
}
