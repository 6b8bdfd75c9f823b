// Screenshot of the demo page once every sample has decoded (or failed), in Debian's
// headless chromium. Usage: node screenshot.mjs DIST OUT.png [--gpu]
// Serves DIST on 127.0.0.1 (any static server would do) and opens DIST/demo/.
import { chromium } from "playwright-core";
import http from "node:http";
import fs from "node:fs";
import path from "node:path";

const [dist, out] = process.argv.slice(2, 4);
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm", ".png": "image/png", ".json": "application/json" };
const server = http.createServer((req, res) => {
  let file = path.join(dist, decodeURIComponent(new URL(req.url, "http://x").pathname));
  if (file.endsWith("/")) file += "index.html";
  fs.readFile(file, (err, body) => {
    if (err) return res.writeHead(404).end();
    const headers = { "content-type": TYPES[path.extname(file)] || "application/octet-stream", "content-length": body.length };
    res.writeHead(200, headers).end(req.method === "HEAD" ? undefined : body);
  });
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", ...(process.argv.includes("--gpu") ? ["--enable-unsafe-webgpu"] : [])],
});
// Tall enough that every lazy element is near the viewport and decodes.
const page = await browser.newPage({ viewport: { width: 1000, height: 2400 } });
page.on("console", (m) => console.log(`[console] ${m.text()}`));
const t0 = Date.now();
await page.goto(`http://127.0.0.1:${server.address().port}/demo/`);
// Every element (samples and memory tiles) has its first frame or an error.
await page.waitForFunction(() => {
  const els = [...document.querySelectorAll("lora-video")];
  return els.length > 0 && els.every((e) => e.readyState === 4 || e._lastError);
}, null, { timeout: 3_000_000, polling: 1000 });
await page.waitForTimeout(700);
console.log(await page.evaluate(() => [...document.querySelectorAll(".status")].map((e) => e.textContent).join("\n")));
console.log(`all samples decoded in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
// Back to a normal window: the full-page shot is then as tall as the content.
await page.setViewportSize({ width: 1000, height: 900 });
await page.waitForTimeout(300);
await page.screenshot({ path: out, fullPage: true });
await browser.close();
server.close();
