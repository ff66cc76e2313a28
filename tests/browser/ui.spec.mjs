// The web UI in headless Chromium against a running gateway, services and simulated fleet.
//
//   node tests/browser/ui.spec.mjs --base-url http://127.0.0.1:8080 --sim-control http://127.0.0.1:PORT \
//        [--screenshots target/browser-screenshots] [--live-timeout 60]
//
// What it checks (the simulator's control API is the source of truth):
//   1. the overview lists every simulated host (tree and hosts table) and the fleet's VM count;
//   2. a known VM is found through the VM table's search, its row matches the simulator;
//   3. its page shows the simulator's settings, disks and NICs;
//   4. an out-of-band change in the simulator (the VM turned off as if in Hyper-V Manager)
//      reaches the open page over /ws, without a reload; after a dropped connection the
//      page reconnects and a change made meanwhile arrives (resumed from its cursor);
//   5. power buttons: Start (no confirmation) and Turn off (confirmation dialog) change the
//      VM in the simulator and on the page;
//   6. host, cluster and System pages, reached by links and the tree, with the keyboard too;
//      the host's VM table follows out-of-band changes: a state, a VM added, a VM removed;
//   7. deep links on fresh page loads (/vms/{id}, /hosts/{fqdn}, a VM table query), Back;
//   8. a host that stops answering shows as unreachable (reason, last-seen age, stale VMs)
//      and recovers, live;
//   9. phone width and dark theme render;
//  10. axe-core finds no WCAG 2.1 A/AA violation (contrast, labels, roles) on any view,
//      in light and dark, with the state menu and a confirmation dialog open;
//  11. no console errors, no uncaught exceptions, no CSP violations, no failed requests;
//  12. provisioning, VM changes, bulk power, jobs and notifications: jobs.steps.mjs.
// Screenshots of each view are written for a human to look at.

import assert from "node:assert/strict";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { launch, watch, Sim, Steps, parseArgs, screenshots, accessibility } from "./lib.mjs";
import { jobSteps } from "./jobs.steps.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const args = parseArgs(process.argv.slice(2));
const base = (args["base-url"] || args._[0] || "").replace(/\/$/, "");
const simControl = args["sim-control"] || args._[1];
if (!base || !simControl) {
  console.error("usage: node ui.spec.mjs --base-url <gateway url> --sim-control <simulator control url> [--screenshots dir]");
  process.exit(2);
}
const shotsDir = path.resolve(args.screenshots || path.join(here, "../../target/browser-screenshots"));
const LIVE_MS = Number(args["live-timeout"] || 60) * 1000;
const STATE = { Running: "running", Off: "off", Saved: "saved", Paused: "paused" };

const sim = new Sim(simControl);
const steps = new Steps();
const shoot = await screenshots(shotsDir);
const browser = await launch();
const pages = [];

const a11yProblems = [];
async function a11y(page, name) {
  a11yProblems.push(...(await accessibility(page, name)));
}

async function text(locator) {
  return (await locator.innerText()).replace(/\s+/g, " ").trim();
}

async function waitForState(page, state, timeout = LIVE_MS) {
  await page.waitForFunction((wanted) => document.querySelector(".page-title .badge")?.dataset.state === wanted, state, { timeout });
}

async function simState(host, id) {
  const answer = await sim.vm(host, id);
  return STATE[answer.vm.state] || String(answer.vm.state).toLowerCase();
}

try {
  console.log(`browser test against ${base} (simulator control ${simControl})`);
  const fleet = await sim.fleet();
  const hosts = fleet.hosts.map((host) => ({ ...host, id: host.name.toLowerCase(), cluster: host.cluster ? host.cluster.toLowerCase() : null }));
  const truth = new Map();
  for (const host of hosts) truth.set(host.id, await sim.vms(host.name));
  const totalVms = [...truth.values()].reduce((sum, vms) => sum + vms.length, 0);
  // The known VM: the first running VM (by name) of the first host that has one.
  const byName = (a, b) => a.name.localeCompare(b.name);
  const knownHost = hosts.find((host) => truth.get(host.id).some((vm) => vm.state === "Running"));
  assert.ok(knownHost, "the simulator has a running VM");
  const known = [...truth.get(knownHost.id)].filter((vm) => vm.state === "Running").sort(byName)[0];
  console.log(`fleet: ${hosts.length} hosts, ${totalVms} VMs; known VM ${known.name} (${known.id}) on ${knownHost.id}`);

  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, colorScheme: "light" });
  const watcher = await watch(context, { origin: base });
  const page = await watcher.page("main");
  pages.push(page);

  await steps.run("the overview lists every simulated host and the fleet's VM count", async () => {
    await page.goto(`${base}/`);
    await page.waitForSelector(".tiles .tile");
    await page.waitForSelector("#connection[data-state=live]", { timeout: 15000 });
    for (const host of hosts) {
      await page.waitForSelector(`[role=treeitem][data-key="host:${host.id}"]`, { timeout: 15000 });
      assert.equal(await page.locator(`#hosts a[href="/hosts/${encodeURIComponent(host.id)}"]`).count(), 1, `hosts table links ${host.id}`);
    }
    const tiles = page.locator(".tile");
    assert.equal(await text(tiles.nth(0).locator(".tile-value")), String(hosts.length), "hosts tile");
    await page.waitForFunction((count) => document.querySelectorAll(".tile")[1]?.querySelector(".tile-value")?.textContent.replace(/\D/g, "") === String(count), totalVms, { timeout: 15000 });
    const clusters = new Set(hosts.map((host) => host.cluster).filter(Boolean));
    for (const cluster of clusters) assert.equal(await page.locator(`#clusters a[href="/clusters/${encodeURIComponent(cluster)}"]`).count(), 1, `clusters table links ${cluster}`);
    assert.equal(await page.title(), "Overview · Aether-V");
    await shoot(page, "01-overview");
    await a11y(page, "overview");
  });

  await steps.run("the VM table finds the known VM by name, and its row matches the simulator", async () => {
    await page.click('a[data-nav="vms"]');
    await page.waitForURL(`${base}/vms`);
    await page.waitForSelector(".vm-table tbody tr");
    await shoot(page, "02-vm-table");
    await a11y(page, "vm table");
    await page.click(".menu-button");
    await page.waitForSelector(".menu[open] .menu-panel");
    await a11y(page, "vm table with the state menu open");
    await page.keyboard.press("Escape");
    // The cluster and host filters list the fleet's clusters and hosts and filter on the server.
    const clusterName = hosts.find((host) => host.cluster)?.cluster;
    if (clusterName) {
      const inCluster = hosts.filter((host) => host.cluster === clusterName).reduce((sum, host) => sum + truth.get(host.id).length, 0);
      await page.selectOption('select[aria-label="Cluster"]', clusterName);
      await page.waitForURL((url) => url.searchParams.get("cluster") === clusterName);
      await page.waitForFunction((n) => new RegExp(`of ${n} VMs$`).test(document.querySelector(".table-summary")?.textContent || ""), inCluster);
      const clusters = await page.locator(".vm-table tbody td.col-cluster").allInnerTexts();
      assert.ok(clusters.every((name) => name.trim() === clusterName), "only VMs of the chosen cluster");
      const hostOptions = (await page.locator('select[aria-label="Host"] option').allInnerTexts()).slice(1);
      assert.equal(hostOptions.length, hosts.filter((host) => host.cluster === clusterName).length, "the host filter lists the cluster's hosts");
      await page.selectOption('select[aria-label="Cluster"]', "");
      await page.waitForURL((url) => !url.searchParams.has("cluster"));
    }
    await page.fill(".vm-table-block input[type=search]", known.name);
    await page.waitForURL((url) => url.searchParams.get("q") === known.name);
    const row = page.locator(".vm-table tbody tr", { has: page.locator(`a[href="/vms/${known.id}"]`) });
    await row.waitFor();
    // The first column holds the row's selection checkbox.
    const cells = row.locator("td");
    assert.equal(await text(cells.nth(1)), known.name);
    assert.equal(await text(cells.nth(2)), "Running");
    assert.equal(await text(cells.nth(5)), String(known.cpu_count), "vCPU column");
    await shoot(page, "03-vm-table-search");
  });

  await steps.run("the VM page shows the simulator's settings, disks and network adapters", async () => {
    await page.click(`.vm-table a[href="/vms/${known.id}"]`);
    await page.waitForURL(`${base}/vms/${known.id}`);
    await page.waitForSelector("#vm-summary");
    assert.equal(await text(page.locator("h1#page-title")), known.name);
    await waitForState(page, "running", 5000);
    const facts = await text(page.locator("#vm-settings"));
    assert.match(facts, new RegExp(`Virtual processors ${known.cpu_count}\\b`));
    assert.match(facts, new RegExp(`Generation ${known.generation}`));
    assert.match(await text(page.locator("#vm-summary")), new RegExp(knownHost.id.replace(/\./g, "\\.")));
    assert.equal(await page.locator("#vm-disks tbody tr").count(), known.disks.length, "one row per disk");
    for (const disk of known.disks) assert.match(await text(page.locator("#vm-disks")), new RegExp(disk.name.replace(/\./g, "\\.")));
    assert.equal(await page.locator("#vm-nics tbody tr").count(), known.nics.length, "one row per NIC");
    for (const nic of known.nics) {
      const mac = nic.mac_address.replace(/[^0-9A-Fa-f]/g, "").toUpperCase().match(/../g).join("-");
      assert.match(await text(page.locator("#vm-nics")), new RegExp(mac));
    }
    assert.equal(await page.title(), `${known.name} · Aether-V`);
    assert.ok(await page.locator('button[data-action="shutdown"]').isEnabled(), "shutdown is enabled for a running VM");
    assert.ok(await page.locator('button[data-action="start"]').isDisabled(), "start is disabled for a running VM");
    await shoot(page, "04-vm-page");
    await a11y(page, "vm page");
  });

  await steps.run("an out-of-band change in the simulator reaches the open VM page without a reload", async () => {
    const marker = `no-reload-${Date.now()}`;
    await page.evaluate((value) => {
      window.__aethervMarker = value;
    }, marker);
    await sim.change(knownHost.name, known.id, { state: "Off" });
    await waitForState(page, "off");
    assert.equal(await page.evaluate(() => window.__aethervMarker), marker, "the page was not reloaded");
    assert.equal(await page.evaluate(() => performance.getEntriesByType("navigation").length), 1, "one document load");
    assert.ok(await page.locator('button[data-action="start"]').isEnabled(), "start is enabled once the VM is off");
    await shoot(page, "05-vm-page-after-out-of-band-change");
  });

  await steps.run("after a dropped WebSocket the page reconnects and resumes: a change made meanwhile arrives, no reload", async () => {
    // The page's WebSocket goes through Playwright to the real gateway, so the test can cut
    // it and refuse reconnects for a while, like a network outage between browser and gateway.
    const tab = await watcher.page("reconnect");
    pages.push(tab);
    let refuse = false;
    const open = [];
    await tab.routeWebSocket(/\/ws$/, (socket) => {
      if (refuse) {
        socket.close({ code: 1012, reason: "test: gateway unreachable" });
        return;
      }
      open.push({ socket, server: socket.connectToServer() });
    });
    const other = [...truth.get(knownHost.id)].filter((vm) => vm.id !== known.id).sort(byName)[0];
    assert.ok(other, "a second VM on the known host");
    const before = await simState(knownHost.name, other.id);
    const [after, afterSim] = before === "off" ? ["running", "Running"] : ["off", "Off"];
    await tab.goto(`${base}/vms/${other.id}`);
    await tab.waitForSelector("#connection[data-state=live]");
    await waitForState(tab, before, 5000);
    await tab.evaluate(() => {
      window.__aethervMarker = "reconnect";
    });
    refuse = true;
    for (const { socket, server } of open.splice(0)) {
      server.close();
      socket.close({ code: 1012, reason: "test: connection lost" });
    }
    await tab.waitForSelector("#connection[data-state=offline]", { timeout: 10000 });
    await sim.change(knownHost.name, other.id, { state: afterSim });
    // Inventory has it (REST answers), while the page, cut off from /ws, still shows the old state.
    const deadline = Date.now() + LIVE_MS;
    for (;;) {
      const record = await (await fetch(`${base}/api/v1/vms/${other.id}`)).json();
      if (record.state === after) break;
      assert.ok(Date.now() < deadline, "inventory saw the change");
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    assert.equal(await tab.evaluate(() => document.querySelector(".page-title .badge")?.dataset.state), before);
    await shoot(tab, "05b-offline-indicator", { fullPage: false });
    refuse = false;
    await tab.waitForSelector("#connection[data-state=live]", { timeout: 30000 });
    await waitForState(tab, after, 15000);
    assert.equal(await tab.evaluate(() => window.__aethervMarker), "reconnect", "the page was not reloaded");
    await tab.close();
  });

  await steps.run("Start (no confirmation) starts the VM in the simulator and on the page", async () => {
    await page.click('button[data-action="start"]');
    await page.waitForFunction(() => /accepted|done/i.test(document.querySelector(".power-result")?.textContent || ""), null, { timeout: 15000 });
    await waitForState(page, "running");
    assert.equal(await simState(knownHost.name, known.id), "running");
    await page.waitForFunction(() => /done/i.test(document.querySelector(".power-result")?.textContent || ""), null, { timeout: 5000 });
  });

  await steps.run("Turn off asks for confirmation, then turns the VM off", async () => {
    await page.click('button[data-action="stop"]');
    const dialog = page.locator("dialog[open]");
    await dialog.waitFor();
    assert.match(await text(dialog), new RegExp(`Turn off ${known.name}\\?`));
    await shoot(page, "06-confirm-turn-off", { fullPage: false });
    await a11y(page, "confirmation dialog");
    await dialog.locator('button[value="cancel"]').click();
    await dialog.waitFor({ state: "detached" });
    assert.equal(await simState(knownHost.name, known.id), "running", "cancel leaves the VM running");
    await page.click('button[data-action="stop"]');
    await page.locator('dialog[open] button[value="confirm"]').click();
    await waitForState(page, "off");
    assert.equal(await simState(knownHost.name, known.id), "off");
    await shoot(page, "07-vm-page-after-turn-off");
  });

  await steps.run("the host page (by link) lists the host's VMs, live (state change, VM added and removed out of band); Back returns to the VM", async () => {
    await page.click(`.page-sub a[href="/hosts/${encodeURIComponent(knownHost.id)}"]`);
    await page.waitForURL(`${base}/hosts/${encodeURIComponent(knownHost.id)}`);
    await page.waitForSelector("#host-facts");
    assert.equal(await text(page.locator("h1#page-title")), knownHost.id);
    const count = truth.get(knownHost.id).length;
    await page.waitForFunction((n) => new RegExp(`of ${n} VMs?$`).test(document.querySelector("#host-vms .table-summary")?.textContent || ""), count, { timeout: 10000 });
    await shoot(page, "08-host-page");
    await a11y(page, "host page");
    // The host's VM table is live: a state change patches its row, and a VM created or
    // removed out of band (as in Hyper-V Manager) appears and disappears, without a reload.
    await page.evaluate(() => {
      window.__aethervMarker = "host-table";
    });
    const target = [...truth.get(knownHost.id)].filter((vm) => vm.id !== known.id).sort(byName).pop();
    const stateCell = page.locator(`#host-vms tr:has(a[href="/vms/${target.id}"]) td:nth-child(3)`);
    const was = await simState(knownHost.name, target.id);
    const [now, nowSim] = was === "off" ? ["Running", "Running"] : ["Off", "Off"];
    await sim.change(knownHost.name, target.id, { state: nowSim });
    await page.waitForFunction(([selector, label]) => document.querySelector(selector)?.innerText.trim() === label, [`#host-vms tr:has(a[href="/vms/${target.id}"]) td:nth-child(3)`, now], { timeout: LIVE_MS });
    assert.equal((await stateCell.innerText()).trim(), now);
    const added = await sim.call("POST", `/hosts/${encodeURIComponent(knownHost.name)}/vms`, { name: "zz-added-out-of-band", cpu_count: 3 });
    await page.locator(`#host-vms a[href="/vms/${added.id}"]`).waitFor({ timeout: LIVE_MS });
    await page.waitForFunction((n) => new RegExp(`of ${n} VMs$`).test(document.querySelector("#host-vms .table-summary")?.textContent || ""), count + 1, { timeout: 10000 });
    await shoot(page, "08b-host-page-vm-added");
    await sim.call("DELETE", `/hosts/${encodeURIComponent(knownHost.name)}/vms/${added.id}`);
    await page.locator(`#host-vms a[href="/vms/${added.id}"]`).waitFor({ state: "detached", timeout: LIVE_MS });
    await page.waitForFunction((n) => new RegExp(`of ${n} VMs$`).test(document.querySelector("#host-vms .table-summary")?.textContent || ""), count, { timeout: 10000 });
    assert.equal(await page.evaluate(() => window.__aethervMarker), "host-table", "the page was not reloaded");
    await page.goBack();
    await page.waitForURL(`${base}/vms/${known.id}`);
    await page.waitForSelector("#vm-summary");
    assert.equal(await text(page.locator("h1#page-title")), known.name);
  });

  const clustered = hosts.find((host) => host.cluster);
  if (clustered) {
    await steps.run("the cluster page (from the tree) shows its hosts", async () => {
      await page.click(`[role=treeitem][data-key="cluster:${clustered.cluster}"] .tree-label`);
      await page.waitForURL(`${base}/clusters/${encodeURIComponent(clustered.cluster)}`);
      await page.waitForSelector("#cluster-hosts tbody tr");
      const members = hosts.filter((host) => host.cluster === clustered.cluster);
      assert.equal(await page.locator("#cluster-hosts tbody tr").count(), members.length);
      await shoot(page, "09-cluster-page");
      await a11y(page, "cluster page");
    });
  }

  await steps.run("the System page shows the gateway's version and every service serving", async () => {
    await page.click('a[data-nav="system"]');
    await page.waitForURL(`${base}/system`);
    await page.waitForSelector("#system-services tbody tr");
    assert.match(await text(page.locator("#system-about")), /Aether-V \d+\.\d+\.\d+/);
    const rows = await page.locator("#system-services tbody tr").allInnerTexts();
    for (const service of ["aetherv-inventory", "aetherv-remote-tasks", "aetherv-jobs", "aetherv-notifications"]) {
      const row = rows.find((line) => line.includes(service));
      assert.ok(row, `${service} is listed`);
      assert.match(row, /Serving/, `${service} is serving`);
    }
    await shoot(page, "10-system");
    await a11y(page, "system page");
  });

  await steps.run("keyboard: '/' focuses the tree search, a host name filters the tree, arrows expand it (VMs load lazily) and collapse it, Enter opens it", async () => {
    await page.goto(`${base}/`);
    await page.waitForSelector(`[role=treeitem][data-key="host:${knownHost.id}"]`);
    await page.locator("body").press("/");
    assert.equal(await page.evaluate(() => document.activeElement?.id), "tree-filter");
    const short = knownHost.id.split(".")[0];
    await page.keyboard.type(short);
    await page.waitForFunction(
      (key) => [...document.querySelectorAll("#tree [role=treeitem][data-key^='host:']")].map((n) => n.dataset.key).join() === key,
      `host:${knownHost.id}`,
    );
    await page.keyboard.press("ArrowDown");
    await page.keyboard.press("ArrowDown");
    assert.equal(await page.evaluate(() => document.activeElement?.dataset.key), `host:${knownHost.id}`);
    // ArrowRight expands the host: its VMs are fetched then (lazily), sorted by name.
    await page.keyboard.press("ArrowRight");
    const vmItems = page.locator(`[role=treeitem][data-key="host:${knownHost.id}"] + [role=group] [role=treeitem][data-key^="vm:"]`);
    await vmItems.first().waitFor();
    const expected = truth.get(knownHost.id).map((vm) => vm.name).sort((x, y) => x.localeCompare(y));
    assert.deepEqual((await vmItems.locator(".tree-label").allInnerTexts()).map((t) => t.trim()), expected.slice(0, 100), "the host's VMs, by name");
    await page.keyboard.press("ArrowRight");
    assert.equal(await page.evaluate(() => document.activeElement?.dataset.key), `vm:${[...truth.get(knownHost.id)].sort((x, y) => x.name.localeCompare(y.name))[0].id}`);
    await page.keyboard.press("ArrowLeft");
    await page.keyboard.press("ArrowLeft");
    assert.equal(await page.getAttribute(`[role=treeitem][data-key="host:${knownHost.id}"]`, "aria-expanded"), "false", "ArrowLeft collapses");
    await page.keyboard.press("Enter");
    await page.waitForURL(`${base}/hosts/${encodeURIComponent(knownHost.id)}`);
    await page.waitForSelector("#host-facts");
    await page.fill("#tree-filter", "");
  });

  await steps.run("deep links load on a fresh page: a VM, a host (FQDN) and a VM table query", async () => {
    const fresh = await watcher.page("deep-links");
    pages.push(fresh);
    await fresh.goto(`${base}/vms/${known.id}`);
    await fresh.waitForSelector("#vm-summary");
    assert.equal(await text(fresh.locator("h1#page-title")), known.name);
    await fresh.goto(`${base}/hosts/${encodeURIComponent(knownHost.id)}`);
    await fresh.waitForSelector("#host-facts");
    assert.equal(await text(fresh.locator("h1#page-title")), knownHost.id);
    await fresh.goto(`${base}/vms?state=running&sort=cpu_count&order=desc&page_size=25`);
    await fresh.waitForSelector(".vm-table tbody tr");
    assert.equal(await fresh.locator('.vm-table th[aria-sort="descending"]').innerText().then((t) => t.trim().replace(/\W+$/, "")), "vCPU");
    const states = await fresh.locator(".vm-table tbody td:nth-child(3)").allInnerTexts();
    assert.ok(states.length > 0 && states.length <= 25, `one page of at most 25 rows (got ${states.length})`);
    assert.ok(states.every((state) => state.trim() === "Running"), "only running VMs");
    const cpus = (await fresh.locator(".vm-table tbody td:nth-child(6)").allInnerTexts()).map(Number);
    assert.deepEqual(cpus, [...cpus].sort((a, b) => b - a), "sorted by vCPU, descending");
    assert.match(await text(fresh.locator(".menu-button")), /Running/);
    await fresh.close();
  });

  await steps.run("an unknown VM id shows 'not found' (and nothing else fails)", async () => {
    const other = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const notFoundWatch = await watch(other, { origin: base, allow: (message) => / 404 |status of 404|404 http/i.test(` ${message} `) });
    const lost = await notFoundWatch.page("not-found");
    await lost.goto(`${base}/vms/00000000-0000-0000-0000-000000000000`);
    await lost.waitForSelector("text=VM not found");
    const problems = await notFoundWatch.problems([lost]);
    await other.close();
    assert.deepEqual(problems, []);
  });

  const victim = hosts.find((host) => host.id !== knownHost.id) || knownHost;
  await steps.run("a host that stops answering is shown unreachable with its reason and age, its VMs stale, and recovers live", async () => {
    await page.goto(`${base}/`);
    await page.waitForSelector(".tiles .tile");
    await sim.call("PATCH", `/hosts/${encodeURIComponent(victim.name)}/knobs`, { responsiveness: "refuse" });
    try {
      const row = page.locator("#unreachable tbody tr", { has: page.locator(`a[href="/hosts/${encodeURIComponent(victim.id)}"]`) });
      await row.waitFor({ timeout: LIVE_MS });
      const cells = row.locator("td");
      assert.match(await text(cells.nth(1)), /\S{10,}/, "a reason is shown");
      assert.match(await text(cells.nth(2)), /ago|just now/, "the last-seen age is shown");
      await page.waitForSelector(`[role=treeitem][data-key="host:${victim.id}"] .dot.tone-bad`);
      await shoot(page, "11-overview-unreachable-host");
      await a11y(page, "overview with an unreachable host");
      await page.click(`#unreachable a[href="/hosts/${encodeURIComponent(victim.id)}"]`);
      await page.waitForSelector("#host-facts");
      assert.match(await text(page.locator(".alert.tone-bad")), /This host is unreachable/);
      await page.waitForSelector("#host-vms .vm-table tbody tr.stale");
      const rows = await page.locator("#host-vms .vm-table tbody tr").count();
      assert.equal(await page.locator("#host-vms .vm-table tbody tr.stale").count(), rows, "every VM of the host is marked stale");
      await shoot(page, "12-host-unreachable");
    } finally {
      await sim.call("POST", `/hosts/${encodeURIComponent(victim.name)}/knobs/reset`);
    }
    await page.waitForFunction(() => !document.querySelector(".alert.tone-bad") && document.querySelector("#page-title + .badge")?.dataset.status === "reachable", null, { timeout: LIVE_MS });
    await page.waitForFunction(() => document.querySelectorAll("#host-vms .vm-table tbody tr.stale").length === 0, null, { timeout: LIVE_MS });
  });

  await steps.run("phone width: the drawer opens and the VM page fits", async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, colorScheme: "dark" });
    const phoneWatch = await watch(phone, { origin: base });
    const small = await phoneWatch.page("phone");
    await small.goto(`${base}/`);
    await small.waitForSelector(".tiles .tile");
    await shoot(small, "13-phone-overview-dark");
    await small.click("#nav-toggle");
    await small.waitForSelector('#sidebar[data-open="true"]');
    await small.waitForTimeout(300);
    await shoot(small, "14-phone-drawer-dark", { fullPage: false });
    await small.click(`[role=treeitem][data-key="host:${knownHost.id}"] .tree-label`);
    await small.waitForSelector("#host-facts");
    assert.equal(await small.getAttribute("#sidebar", "data-open"), "false", "the drawer closes after navigating");
    await small.goto(`${base}/vms/${known.id}`);
    await small.waitForSelector("#vm-summary");
    const overflow = await small.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 1, `no sideways scrolling of the page (overflow ${overflow}px)`);
    await shoot(small, "15-phone-vm-page-dark");
    await a11y(small, "phone vm page (dark)");
    // A confirmation dialog in the dark theme (cancelled: nothing changes).
    const running = (await (await fetch(`${base}/api/v1/vms?state=running&page_size=1`)).json()).vms[0];
    await small.goto(`${base}/vms/${running.id}`);
    await small.click('button[data-action="reset"]');
    await small.locator("dialog[open]").waitFor();
    await a11y(small, "phone confirmation dialog (dark)");
    await shoot(small, "16-phone-confirm-reset-dark", { fullPage: false });
    await small.locator('dialog[open] button[value="cancel"]').click();
    await small.goto(`${base}/`);
    await small.waitForSelector(".tiles .tile");
    await a11y(small, "phone overview (dark)");
    const problems = await phoneWatch.problems([small]);
    await phone.close();
    assert.deepEqual(problems, []);
  });

  // Issue 4: provisioning, VM changes, bulk power, jobs and notifications (jobs.steps.mjs).
  await jobSteps({ steps, browser, base, sim, watch, shoot, a11y, pages, hosts, knownHost, known, LIVE_MS });

  await steps.run("axe-core: no accessibility violations on any view checked above", async () => {
    assert.deepEqual(a11yProblems, []);
  });

  await steps.run("no console errors, uncaught exceptions, CSP violations or failed requests", async () => {
    assert.deepEqual(await watcher.problems(pages), []);
  });

  console.log(`\n${steps.done.length} checks passed in ${((Date.now() - steps.started) / 1000).toFixed(1)} s`);
  console.log(`screenshots:\n${shoot.saved.map((file) => `  ${file}`).join("\n")}`);
  await browser.close();
} catch (error) {
  console.error(`\nFAILED ${error.stack || error}`);
  for (const page of pages) {
    if (page.isClosed()) continue;
    try {
      const file = await shoot(page, `failure-${pages.indexOf(page)}`);
      console.error(`page at failure: ${page.url()} → ${file}`);
    } catch {
      // The page may be gone.
    }
  }
  await browser.close();
  process.exit(1);
}
