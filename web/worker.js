// The decoding worker of <lora-video>: fetches and caches the base model (verified by
// SHA-256), loads it into the wasm decoder once, and decodes clips off the main thread.
//
// Messages in:  {id, type: "decode", base, gpu, clip: ArrayBuffer,
//                render: {seed, strength, steps, mix, sharpen, sketch} (optional), mixClip: ArrayBuffer (optional),
//                sketchClip: ArrayBuffer (optional: a clip whose sketch replaces the clip's)}
// Messages out: {id, type: "model", backend, cached}      the model is ready
//               {id, type: "progress", done, total}
//               {id, type: "frames", width, height, frames, fpsNum, fpsDen, rgba}
//               {id, type: "error", reason, message}
import init, { Decoder, Backend, inspect, sha256Hex } from "./lora_video_decoder_wasm.js";

const CACHE = "lora-video-models-v1";
const ready = init();
// One loaded model per (url, sha256): every element that names it shares it.
const models = new Map();

class Failure extends Error {
  constructor(reason, message) {
    super(message);
    this.reason = reason;
  }
}

// The model bytes whose SHA-256 is `want`: from the Cache API when a good copy is there,
// else fetched. A cached copy that does not match is dropped and fetched again.
async function modelBytes(url, want) {
  const cache = self.caches ? await self.caches.open(CACHE).catch(() => null) : null;
  if (cache) {
    const hit = await cache.match(url);
    if (hit) {
      const bytes = new Uint8Array(await hit.arrayBuffer());
      if (sha256Hex(bytes) === want) return { bytes, cached: true };
      await cache.delete(url);
    }
  }
  let response;
  try {
    response = await fetch(url, { cache: "no-cache" });
  } catch (e) {
    throw new Failure("network", `fetching the base model ${url}: ${e.message}`);
  }
  if (!response.ok) throw new Failure("network", `fetching the base model ${url}: HTTP ${response.status}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  const got = sha256Hex(bytes);
  if (got !== want) {
    throw new Failure("wrong-model", `the clip needs base model ${want}, but ${url} is ${got}`);
  }
  if (cache) await cache.put(url, new Response(bytes, { headers: { "content-type": "application/octet-stream" } })).catch(() => {});
  return { bytes, cached: false };
}

function decoderFor(url, want, gpu) {
  const key = `${url} ${want} ${gpu}`;
  if (!models.has(key)) {
    const p = (async () => {
      const { bytes, cached } = await modelBytes(url, want);
      try {
        return { decoder: await Decoder.load(bytes, gpu), cached };
      } catch (e) {
        throw new Failure("bad-model", e.message || String(e));
      }
    })();
    p.catch(() => models.delete(key)); // a failure can be retried
    models.set(key, p);
  }
  return models.get(key);
}

const REASONS = { 1: "corrupt", 2: "not-a-clip", 3: "unsupported", 4: "corrupt", 5: "corrupt", 6: "wrong-model", 7: "bad-model", 8: "device" };

self.onmessage = async ({ data: m }) => {
  const post = (msg, transfer) => self.postMessage({ id: m.id, ...msg }, transfer || []);
  try {
    await ready;
    const bytes = new Uint8Array(m.clip);
    let info;
    try {
      info = inspect(bytes);
    } catch (e) {
      throw new Failure(REASONS[e.code] || "decode", e.message || String(e));
    }
    const { decoder, cached } = await decoderFor(m.base, info.model_sha256, m.gpu);
    post({ type: "model", backend: decoder.backend === Backend.Gpu ? "webgpu" : "cpu", cached });
    const options = {
      ...(m.render || {}),
      mixClip: m.mixClip ? new Uint8Array(m.mixClip) : undefined,
      sketchClip: m.sketchClip ? new Uint8Array(m.sketchClip) : undefined,
    };
    const clip = await decoder
      .render(bytes, options, (done, total) => post({ type: "progress", done, total }))
      .catch((e) => {
        throw new Failure(REASONS[e.code] || "decode", e.message || String(e));
      });
    const rgba = clip.rgba;
    post({ type: "frames", width: clip.width, height: clip.height, frames: clip.frames, fpsNum: clip.fps_num, fpsDen: clip.fps_den, rgba }, [rgba.buffer]);
  } catch (e) {
    post({ type: "error", reason: e.reason || "decode", message: e.message || String(e) });
  }
};
