// Browser tests of <lora-video> in Debian's headless chromium (playwright-core, never a
// downloaded browser). Usage: node run.mjs DIST FIXTURES [--bench out.json]
//   DIST      web/dist built with the tiny model (MODEL=tiny scripts/build-web.sh)
//   FIXTURES  tiny.lvc, wrong-model.lvc, and ref_00.png... (the native decoder's frames of tiny.lvc)
import { chromium } from "playwright-core";
import http from "node:http";
import fs from "node:fs";
import path from "node:path";

const [dist, fixtures] = process.argv.slice(2, 4);
const benchOut = process.argv.includes("--bench") ? process.argv[process.argv.indexOf("--bench") + 1] : null;
const here = path.dirname(new URL(import.meta.url).pathname);
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm", ".png": "image/png", ".lvc": "application/octet-stream", ".lvm": "application/octet-stream" };

// A static server that counts requests per path.
const hits = {};
const server = http.createServer((req, res) => {
  const url = new URL(req.url, "http://x").pathname;
  hits[url] = (hits[url] || 0) + 1;
  let file;
  if (url === "/test/page.html") file = path.join(here, "page.html");
  else if (url.startsWith("/fixtures/")) file = path.join(fixtures, url.slice("/fixtures/".length));
  else file = path.join(dist, url);
  fs.readFile(file, (err, body) => {
    if (err) {
      res.writeHead(404).end("not found");
      return;
    }
    res.writeHead(200, { "content-type": TYPES[path.extname(file)] || "application/octet-stream" }).end(body);
  });
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const origin = `http://127.0.0.1:${server.address().port}`;

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--enable-unsafe-webgpu"],
});

let failures = 0;
const results = {};
function check(name, ok, detail) {
  console.log(`${ok ? "ok  " : "FAIL"} ${name}${detail ? `: ${detail}` : ""}`);
  if (!ok) failures++;
}

async function page(context) {
  const p = await context.newPage();
  p.on("console", (m) => m.type() === "error" && console.log(`  [console] ${m.text()}`));
  p.on("pageerror", (e) => console.log(`  [pageerror] ${e.message}`));
  await p.goto(`${origin}/test/page.html`);
  await p.waitForFunction(() => window.pageReady === true);
  return p;
}

const run = (p, attrs, reference, change) => p.evaluate(([a, r, c]) => window.runCase(a, r, c), [attrs, reference || null, change || null]);
const clip = { src: "/fixtures/tiny.lvc", base: "/base.lvm" };
const reference = "/fixtures/ref_%02d.png";
const minPsnr = (r) => Math.min(...(r.psnr || [0]));

try {
  // CPU: cold cache, a second element on the same page, then a reload (warm cache).
  {
    const context = await browser.newContext();
    const p = await page(context);
    const cold = await run(p, { ...clip, backend: "cpu" }, reference);
    check("cpu: decodes the committed sample", cold.events.includes("canplay") && cold.backend === "cpu", JSON.stringify(cold.error || cold.events));
    check("cpu: frames match the native decoder within 40 dB", minPsnr(cold) >= 40, `min PSNR ${minPsnr(cold).toFixed(2)} dB`);
    check("cpu: progress events", cold.progress > 0, `${cold.progress}`);
    const scaled = await run(p, { src: "/fixtures/tiny-scaled.lvc", base: "/base.lvm", backend: "cpu" }, "/fixtures/scaled_%02d.png");
    check("a clip with inference-time scaling matches the native decoder within 40 dB", minPsnr(scaled) >= 40, `min PSNR ${minPsnr(scaled).toFixed(2)} dB ${JSON.stringify(scaled.error || "")}`);
    const second = await run(p, { ...clip, backend: "cpu" });
    check("a second element reuses the model (one download)", second.events.includes("canplay") && hits["/base.lvm"] === 1, `base.lvm fetched ${hits["/base.lvm"]} time(s)`);
    await p.reload();
    await p.waitForFunction(() => window.pageReady === true);
    const warm = await run(p, { ...clip, backend: "cpu" });
    check("after a reload the model comes from the cache", warm.cached === true && hits["/base.lvm"] === 1, `cached ${warm.cached}, fetched ${hits["/base.lvm"]}`);
    results.cpu = { cold_ms: cold.ms, warm_ms: warm.ms, second_element_ms: second.ms };
    await context.close();
  }
  // WebGPU (SwiftShader here), where this chromium offers an adapter.
  {
    const context = await browser.newContext();
    const p = await page(context);
    const adapter = await p.evaluate(async () => !!(navigator.gpu && (await navigator.gpu.requestAdapter())));
    if (!adapter) {
      console.log("skip webgpu: this chromium offers no WebGPU adapter");
      results.webgpu = null;
    } else {
      const cold = await run(p, clip, reference);
      check("webgpu: decodes on the WebGPU backend", cold.backend === "webgpu" && cold.events.includes("canplay"), JSON.stringify(cold.error || cold.backend));
      check("webgpu: frames match the native decoder within 40 dB", minPsnr(cold) >= 40, `min PSNR ${minPsnr(cold).toFixed(2)} dB`);
      await p.reload();
      await p.waitForFunction(() => window.pageReady === true);
      const warm = await run(p, clip);
      results.webgpu = { cold_ms: cold.ms, warm_ms: warm.ms };
    }
    await context.close();
  }
  // Render controls: the same frames as `lora-video render` with the same options.
  {
    const context = await browser.newContext();
    const p = await page(context);
    const cpu = { ...clip, backend: "cpu" };
    const controls = { seed: "7", strength: "1.5" };
    const direct = await run(p, { ...cpu, ...controls }, "/fixtures/render_%02d.png");
    check("seed and strength match lora-video render within 40 dB", minPsnr(direct) >= 40, `min PSNR ${minPsnr(direct).toFixed(2)} dB ${JSON.stringify(direct.error || "")}`);
    const changed = await run(p, cpu, "/fixtures/render_%02d.png", controls);
    check("changing seed and strength re-renders", minPsnr(changed) >= 40 && changed.events.filter((e) => e === "canplay").length === 2, `min PSNR ${minPsnr(changed).toFixed(2)} dB, events ${changed.events}`);
    const merged = await run(p, { ...cpu, "mix-src": "/fixtures/tiny.lvc", mix: "0.5", steps: "6" }, "/fixtures/merge_%02d.png");
    check("mix-src, mix and steps match lora-video render --merge within 40 dB", minPsnr(merged) >= 40, `min PSNR ${minPsnr(merged).toFixed(2)} dB ${JSON.stringify(merged.error || "")}`);
    const wrongMix = await run(p, { ...cpu, "mix-src": "/fixtures/wrong-model.lvc" });
    check("a mix-src for another model is wrong-model", wrongMix.error?.reason === "wrong-model", JSON.stringify(wrongMix.error));
    const off = await run(p, { ...cpu, sketch: "off" }, "/fixtures/nosketch_%02d.png");
    check("sketch=off matches lora-video render --sketch off within 40 dB", minPsnr(off) >= 40, `min PSNR ${minPsnr(off).toFixed(2)} dB ${JSON.stringify(off.error || "")}`);
    const other = await run(p, { ...cpu, "sketch-src": "/fixtures/tiny-scaled.lvc", seed: "3" }, "/fixtures/sketchfrom_%02d.png");
    check("sketch-src matches lora-video render --sketch-from within 40 dB", minPsnr(other) >= 40, `min PSNR ${minPsnr(other).toFixed(2)} dB ${JSON.stringify(other.error || "")}`);
    const sharp = await run(p, { ...cpu, sharpen: "1" }, "/fixtures/sharpen_%02d.png");
    check("sharpen matches lora-video render --sharpen within 40 dB", minPsnr(sharp) >= 40, `min PSNR ${minPsnr(sharp).toFixed(2)} dB ${JSON.stringify(sharp.error || "")}`);
    const badSharpen = await run(p, { ...cpu, sharpen: "9" });
    check("a sharpen past 4 is unsupported", badSharpen.error?.reason === "unsupported", JSON.stringify(badSharpen.error));
    const badSketch = await run(p, { ...cpu, sketch: "maybe" });
    check("a sketch value other than off is unsupported", badSketch.error?.reason === "unsupported", JSON.stringify(badSketch.error));
    const badStrength = await run(p, { ...cpu, strength: "lots" });
    check("a strength that is not a number is unsupported", badStrength.error?.reason === "unsupported", JSON.stringify(badStrength.error));
    await context.close();
  }
  // Failures: each gives an error event with a typed reason.
  {
    const context = await browser.newContext();
    const p = await page(context);
    const missing = await run(p, { src: "/fixtures/missing.lvc", base: "/base.lvm", backend: "cpu" });
    check("a missing src is a network error", missing.error?.reason === "network", JSON.stringify(missing.error));
    const junk = await run(p, { src: "/test/page.html", base: "/base.lvm", backend: "cpu" });
    check("a src that is not a clip is not-a-clip", junk.error?.reason === "not-a-clip", JSON.stringify(junk.error));
    const wrong = await run(p, { src: "/fixtures/wrong-model.lvc", base: "/base.lvm", backend: "cpu" });
    check("a clip for another model is wrong-model", wrong.error?.reason === "wrong-model", JSON.stringify(wrong.error));
    const nobase = await run(p, { src: "/fixtures/tiny.lvc", base: "/nope.lvm", backend: "cpu" });
    check("a missing base model is a network error", nobase.error?.reason === "network", JSON.stringify(nobase.error));
    await context.close();
  }
} finally {
  await browser.close();
  server.close();
}
if (benchOut) fs.writeFileSync(benchOut, JSON.stringify(results, null, 2));
console.log(JSON.stringify(results));
if (failures) {
  console.log(`${failures} browser test(s) failed`);
  process.exit(1);
}
