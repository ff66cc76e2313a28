// A development server for the web UI: serves gateway/ui/ straight from disk (no gateway
// rebuild per edit) under the gateway's Content-Security-Policy, falls back to index.html
// for deep links like the gateway does, and forwards /api, /ws, /docs, /healthz and /readyz
// to a running gateway (rewriting Host and Origin so its same-origin checks pass).
// Not used by the tests, which run against the real gateway with its embedded files.
//
//   node tests/browser/dev-server.mjs http://127.0.0.1:8080 [port]

import http from "node:http";
import net from "node:net";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../../gateway/ui");
const target = new URL(process.argv[2] || "http://127.0.0.1:8080");
const port = Number(process.argv[3] || 8765);
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'";
const TYPES = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml" };
const FORWARDED = ["/api/", "/ws", "/docs", "/healthz", "/readyz"];

function forward(request, response) {
  const headers = { ...request.headers, host: target.host };
  if (headers.origin) headers.origin = target.origin;
  const upstream = http.request({ host: target.hostname, port: target.port, method: request.method, path: request.url, headers }, (answer) => {
    response.writeHead(answer.statusCode, answer.headers);
    answer.pipe(response);
  });
  upstream.on("error", () => {
    response.writeHead(502, { "content-type": "text/plain" });
    response.end("gateway unreachable");
  });
  request.pipe(upstream);
}

const server = http.createServer(async (request, response) => {
  const url = new URL(request.url, "http://localhost");
  if (FORWARDED.some((prefix) => url.pathname === prefix.replace(/\/$/, "") || url.pathname.startsWith(prefix))) {
    forward(request, response);
    return;
  }
  let file = path.normalize(path.join(root, url.pathname));
  if (!file.startsWith(root)) {
    response.writeHead(400).end();
    return;
  }
  const FILES = /\.(html?|m?js|css|json|map|svg|png|jpe?g|gif|ico|webp|woff2?|ttf|txt|wasm|xml)$/i;
  if (url.pathname === "/" || !FILES.test(url.pathname)) file = path.join(root, "index.html");
  try {
    const body = await readFile(file);
    response.writeHead(200, {
      "content-type": TYPES[path.extname(file)] || "application/octet-stream",
      "content-security-policy": CSP,
      "cache-control": "no-store",
    });
    response.end(body);
  } catch {
    response.writeHead(404, { "content-type": "text/plain" }).end("not found");
  }
});

server.on("upgrade", (request, socket, head) => {
  const upstream = net.connect(Number(target.port), target.hostname, () => {
    const lines = [`${request.method} ${request.url} HTTP/1.1`];
    for (let i = 0; i < request.rawHeaders.length; i += 2) {
      const name = request.rawHeaders[i];
      let value = request.rawHeaders[i + 1];
      if (name.toLowerCase() === "host") value = target.host;
      if (name.toLowerCase() === "origin") value = target.origin;
      lines.push(`${name}: ${value}`);
    }
    upstream.write(lines.join("\r\n") + "\r\n\r\n");
    if (head.length) upstream.write(head);
    upstream.pipe(socket);
    socket.pipe(upstream);
  });
  upstream.on("error", () => socket.destroy());
  socket.on("error", () => upstream.destroy());
});

server.listen(port, "127.0.0.1", () => console.log(`ui dev server on http://127.0.0.1:${port} → ${target.origin}`));
