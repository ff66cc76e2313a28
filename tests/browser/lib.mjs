// Shared pieces of the browser tests: launching the system's Chromium through
// playwright-core (never a downloaded browser), collecting what must not happen on a page
// (console errors, uncaught exceptions, CSP violations, failed same-origin requests), a
// client for the simulator's control API, and a tiny step runner that reports each check.

import { mkdir } from "node:fs/promises";
import path from "node:path";

export const CHROMIUM = process.env.AETHERV_CHROMIUM || "/usr/bin/chromium";

const FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
];

/** Parses `--name value` pairs and positional arguments. */
export function parseArgs(argv) {
  const options = { _: [] };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg.startsWith("--")) {
      const [name, inline] = arg.slice(2).split("=", 2);
      options[name] = inline !== undefined ? inline : argv[i + 1] && !argv[i + 1].startsWith("--") ? argv[++i] : "true";
    } else options._.push(arg);
  }
  return options;
}

/** Launches headless Chromium. */
export async function launch() {
  let chromium;
  try {
    ({ chromium } = await import("playwright-core"));
  } catch {
    throw new Error("playwright-core is not installed: run ./scripts/test (it runs npm ci in tests/browser)");
  }
  try {
    return await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
  } catch (error) {
    throw new Error(`cannot start Chromium at ${CHROMIUM}: run ./scripts/test, which installs it (${error.message.split("\n")[0]})`);
  }
}

/**
 * Watches a browser context for console errors, page errors, CSP violations and failed
 * requests. `allow(text)` may excuse an expected message. Returns {problems(), page(name)}.
 */
export async function watch(context, { origin, allow = () => false } = {}) {
  const problems = [];
  await context.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener("securitypolicyviolation", (event) => {
      window.__cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI || "inline"} (${event.sourceFile}:${event.lineNumber})`);
    });
  });
  const attach = (page, name) => {
    page.on("console", (message) => {
      const text = message.text();
      if (message.type() === "error" && !allow(text)) problems.push(`${name}: console error: ${text}`);
      if (/Content Security Policy/i.test(text)) problems.push(`${name}: CSP: ${text}`);
    });
    page.on("pageerror", (error) => problems.push(`${name}: uncaught ${error.name}: ${error.message}`));
    page.on("requestfailed", (request) => {
      const failure = request.failure()?.errorText || "";
      // Requests the app aborts on purpose (a newer search replaced an older one).
      if (failure.includes("ERR_ABORTED")) return;
      if (origin && request.url().startsWith(origin)) problems.push(`${name}: request failed: ${request.method()} ${request.url()} ${failure}`);
    });
    page.on("response", (response) => {
      if (response.status() >= 400 && origin && response.url().startsWith(origin) && !allow(`${response.status()} ${response.url()}`)) {
        problems.push(`${name}: ${response.status()} from ${response.request().method()} ${response.url()}`);
      }
    });
    return page;
  };
  return {
    async page(name) {
      return attach(await context.newPage(), name);
    },
    async problems(pages = []) {
      const found = [...problems];
      for (const page of pages) {
        if (page.isClosed()) continue;
        const csp = await page.evaluate(() => window.__cspViolations || []);
        for (const violation of csp) found.push(`CSP violation: ${violation}`);
      }
      return found;
    },
  };
}

/** The simulator's control API (the source of truth for what the fleet really is). */
export class Sim {
  constructor(base) {
    this.base = base.replace(/\/$/, "");
  }

  async call(method, route, body) {
    const response = await fetch(this.base + route, {
      method,
      headers: body ? { "content-type": "application/json" } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`sim control ${method} ${route}: ${response.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }

  fleet() {
    return this.call("GET", "/fleet");
  }

  vms(host) {
    return this.call("GET", `/hosts/${encodeURIComponent(host)}/vms`);
  }

  vm(host, vm) {
    return this.call("GET", `/hosts/${encodeURIComponent(host)}/vms/${encodeURIComponent(vm)}`);
  }

  change(host, vm, change) {
    return this.call("PATCH", `/hosts/${encodeURIComponent(host)}/vms/${encodeURIComponent(vm)}`, change);
  }
}

/** Runs named steps in order, printing each; stops at the first failure. */
export class Steps {
  constructor() {
    this.done = [];
    this.started = Date.now();
  }

  async run(name, fn) {
    const began = Date.now();
    process.stdout.write(`  … ${name}\n`);
    try {
      const result = await fn();
      this.done.push(name);
      process.stdout.write(`  ✓ ${name} (${((Date.now() - began) / 1000).toFixed(1)} s)\n`);
      return result;
    } catch (error) {
      process.stdout.write(`  ✗ ${name}\n`);
      error.message = `${name}: ${error.message}`;
      throw error;
    }
  }
}

/** Makes the screenshot folder and returns a function saving full-page PNGs into it. */
export async function screenshots(dir) {
  await mkdir(dir, { recursive: true });
  const saved = [];
  const shoot = async (page, name, options = {}) => {
    const file = path.join(dir, `${name}.png`);
    await page.screenshot({ path: file, fullPage: true, ...options });
    saved.push(file);
    return file;
  };
  shoot.saved = saved;
  return shoot;
}

let axeSource = null;

/**
 * Runs axe-core (WCAG 2.x A/AA rules, colour contrast included) on the page as it is now.
 * axe is evaluated through the DevTools protocol, which the page's CSP does not govern, so
 * the page under test keeps its real policy. Returns the violations as readable lines.
 */
export async function accessibility(page, name) {
  if (!axeSource) {
    const { readFile } = await import("node:fs/promises");
    const { createRequire } = await import("node:module");
    try {
      axeSource = await readFile(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
    } catch {
      throw new Error("axe-core is not installed: run ./scripts/test (it runs npm ci in tests/browser)");
    }
  }
  await page.evaluate(axeSource);
  const violations = await page.evaluate(() =>
    window.axe
      .run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] }, resultTypes: ["violations"] })
      .then((result) =>
        result.violations.map((violation) => ({
          id: violation.id,
          impact: violation.impact,
          help: violation.help,
          nodes: violation.nodes.slice(0, 3).map((node) => `${node.target.join(" ")}: ${(node.failureSummary || "").split("\n").slice(1).join(" ").trim()}`),
        })),
      ),
  );
  return violations.map((v) => `${name}: ${v.id} (${v.impact}) ${v.help} — ${v.nodes.join(" | ")}`);
}
