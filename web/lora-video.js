// <lora-video>: plays a lora-video clip (.lvc) like <video> plays a file.
//
//   <script type="module" src="lora-video.js"></script>
//   <lora-video src="clip.lvc" autoplay muted loop controls></lora-video>
//
// Attributes: src, base (the .lvm URL; default base.lvm beside this script), poster,
// autoplay, loop, muted, controls, playsinline, preload ("none" | "metadata" | "auto"),
// loading ("eager" | "lazy"), width, height, crossorigin, backend ("auto" | "cpu").
// Re-render controls (each change re-renders; see `lora-video render`): seed (the
// sampler's noise; default the clip's), strength (adapter strength: 0 is the base model's
// own sample, 1 the clip), steps (sampler steps), mix-src (a second clip for the same
// base model whose LoRA update is added), mix (its weight, default 1), sketch ("off":
// render the adapter without the clip's sketch), sketch-src (a clip whose sketch, its
// layout, colours and motion, replaces this clip's) and sharpen (0..4: how much the
// frames are sharpened; default the sketch's own amount, 0 none).
// Methods: play(), pause(), load(), retry(). Properties: paused, ended, currentTime,
// duration, readyState, backend ("webgpu" | "cpu" once known), modelCached.
// Events: loadstart, progress (detail {done, total}), canplay, play, pause, ended,
// error (detail {reason, message}; reason is "network", "not-a-clip", "corrupt",
// "unsupported", "wrong-model", "bad-model", "device" or "decode").
// Decoding runs in one shared Web Worker; every element shares it and the cached model.

const SCRIPT_URL = new URL(import.meta.url);
const DEFAULT_BASE = new URL("base.lvm", SCRIPT_URL).href;

let worker = null;
let nextId = 1;
const pending = new Map();

function sharedWorker() {
  if (!worker) {
    worker = new Worker(new URL("worker.js", SCRIPT_URL), { type: "module" });
    worker.onmessage = ({ data }) => pending.get(data.id)?.(data);
    worker.onerror = (e) => {
      for (const [id, on] of pending) on({ id, type: "error", reason: "decode", message: e.message || "worker failed" });
    };
  }
  return worker;
}

// Sends one clip (and its render controls, with a second clip to mix in) to the worker;
// `on(msg)` receives every message about it.
function decodeInWorker(clip, base, gpu, render, mixClip, sketchClip, on) {
  const id = nextId++;
  pending.set(id, (msg) => {
    if (msg.type === "frames" || msg.type === "error") pending.delete(id);
    on(msg);
  });
  const transfer = [clip, mixClip, sketchClip].filter(Boolean);
  sharedWorker().postMessage({ id, type: "decode", base, gpu, clip, render, mixClip, sketchClip }, transfer);
}

const CONTROLS = ["seed", "strength", "steps", "mix", "sharpen"];

/** What this browser can do: wasm and workers are required; WebGPU is optional. */
export function capabilities() {
  return {
    supported: typeof WebAssembly === "object" && typeof Worker === "function",
    webgpu: typeof navigator !== "undefined" && "gpu" in navigator,
  };
}

const STYLE = `
:host { display: inline-block; position: relative; background: #111; overflow: hidden; }
:host([hidden]) { display: none; }
canvas, img { display: block; width: 100%; height: 100%; object-fit: contain; }
img { position: absolute; inset: 0; }
.bar { position: absolute; left: 0; right: 0; bottom: 0; display: none; align-items: center; gap: 8px;
  padding: 6px 8px; background: linear-gradient(transparent, rgba(0,0,0,.6)); color: #fff; font: 12px system-ui, sans-serif; }
:host([controls]) .bar { display: flex; }
button { background: none; border: 0; color: inherit; font: inherit; cursor: pointer; padding: 2px 6px; }
progress { flex: 1; height: 4px; }
.status { position: absolute; top: 6px; left: 8px; color: #fff; font: 12px system-ui, sans-serif; text-shadow: 0 0 3px #000; }
`;

export class LoraVideoElement extends HTMLElement {
  static get observedAttributes() {
    return ["src", "base", "poster", "width", "height", "controls", "backend", "seed", "strength", "steps", "mix-src", "mix", "sketch", "sketch-src", "sharpen"];
  }

  static capabilities = capabilities;

  constructor() {
    super();
    const root = this.attachShadow({ mode: "open" });
    root.innerHTML = `<style>${STYLE}</style><canvas part="canvas"></canvas><img part="poster" alt="" hidden>
      <div class="status" part="status"></div>
      <div class="bar" part="controls"><button part="play-button" aria-label="Play">▶</button><progress max="1" value="0"></progress></div>`;
    this._canvas = root.querySelector("canvas");
    this._poster = root.querySelector("img");
    this._status = root.querySelector(".status");
    this._button = root.querySelector("button");
    this._bar = root.querySelector("progress");
    this._button.addEventListener("click", () => (this.paused ? this.play() : this.pause()));
    this._clip = null;
    this._frame = 0;
    this._paused = true;
    this._ended = false;
    this._raf = 0;
    this._generation = 0;
    this.readyState = 0;
    this.backend = null;
    this.modelCached = null;
    this._waitingToPlay = false;
  }

  connectedCallback() {
    this._applySize();
    this._showPoster();
    if (this.getAttribute("preload") === "none" && !this.hasAttribute("autoplay")) return;
    if (this.getAttribute("loading") === "lazy" && "IntersectionObserver" in window) {
      this._observer = new IntersectionObserver((entries) => {
        if (entries.some((e) => e.isIntersecting)) {
          this._observer.disconnect();
          this._observer = null;
          this.load();
        }
      }, { rootMargin: "200px" });
      this._observer.observe(this);
    } else {
      this.load();
    }
  }

  disconnectedCallback() {
    this._observer?.disconnect();
    cancelAnimationFrame(this._raf);
  }

  attributeChangedCallback(name, old, value) {
    if (old === value || !this.isConnected) return;
    if (name === "width" || name === "height") this._applySize();
    else if (name === "poster") this._showPoster();
    else if (["src", "base", "backend", "mix-src", "sketch", "sketch-src", ...CONTROLS].includes(name)) this.load();
  }

  get src() { return this.getAttribute("src") || ""; }
  set src(v) { this.setAttribute("src", v); }
  get paused() { return this._paused; }
  get ended() { return this._ended; }
  get duration() { return this._clip ? this._clip.frames * this._clip.fpsDen / this._clip.fpsNum : NaN; }
  get currentTime() { return this._clip ? this._frame * this._clip.fpsDen / this._clip.fpsNum : 0; }
  set currentTime(t) {
    if (!this._clip) return;
    this._frame = Math.max(0, Math.min(this._clip.frames - 1, Math.round(t * this._clip.fpsNum / this._clip.fpsDen)));
    this._draw();
  }

  _applySize() {
    for (const side of ["width", "height"]) {
      const v = this.getAttribute(side);
      this.style[side] = v ? `${parseInt(v, 10)}px` : "";
    }
  }

  _showPoster() {
    const p = this.getAttribute("poster");
    if (p && !this._clip) {
      this._poster.src = p;
      this._poster.hidden = false;
    }
  }

  _fire(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: false }));
  }

  _fail(reason, message) {
    this._status.textContent = "";
    this.readyState = 0;
    this._lastError = { reason, message };
    this._fire("error", { reason, message });
  }

  /** Fetches and decodes `src` again (after a network error, for example). */
  retry() { this.load(); }

  // The render controls from the attributes (numbers; a bad value is an "unsupported" error).
  _render() {
    const render = {};
    for (const name of CONTROLS) {
      const v = this.getAttribute(name);
      if (v === null || v === "") continue;
      const x = Number(v);
      if (!Number.isFinite(x)) throw new Error(`${name}="${v}" is not a number`);
      render[name] = x;
    }
    const sketch = this.getAttribute("sketch");
    if (sketch !== null && sketch !== "") {
      if (sketch !== "off") throw new Error(`sketch="${sketch}": the only value is "off"`);
      render.sketch = "off";
    }
    return render;
  }

  async _fetchClip(url) {
    const init = this.hasAttribute("crossorigin") ? { mode: "cors", credentials: this.getAttribute("crossorigin") === "use-credentials" ? "include" : "same-origin" } : {};
    const response = await fetch(new URL(url, document.baseURI), init);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return response.arrayBuffer();
  }

  /** Starts (again) from `src`: fetch, decode in the worker, then play if autoplay. */
  async load() {
    const generation = ++this._generation;
    cancelAnimationFrame(this._raf);
    this._clip = null;
    this._frame = 0;
    this._paused = true;
    this._ended = false;
    this.readyState = 0;
    if (!this.src) return;
    const caps = capabilities();
    if (!caps.supported) return this._fail("unsupported", "this browser has no WebAssembly or Web Workers");
    this._fire("loadstart");
    this._status.textContent = "loading…";
    let render;
    try {
      render = this._render();
    } catch (e) {
      return this._fail("unsupported", e.message);
    }
    let clip, mixClip = null, sketchClip = null;
    const mixSrc = this.getAttribute("mix-src");
    const sketchSrc = this.getAttribute("sketch-src");
    for (const [url, set] of [[this.src, (b) => (clip = b)], [mixSrc, (b) => (mixClip = b)], [sketchSrc, (b) => (sketchClip = b)]]) {
      if (!url) continue;
      try {
        set(await this._fetchClip(url));
      } catch (e) {
        if (generation === this._generation) this._fail("network", `fetching ${url}: ${e.message}`);
        return;
      }
    }
    if (generation !== this._generation) return;
    const base = new URL(this.getAttribute("base") || DEFAULT_BASE, document.baseURI).href;
    const gpu = this.getAttribute("backend") !== "cpu" && caps.webgpu;
    decodeInWorker(clip, base, gpu, render, mixClip, sketchClip, (msg) => {
      if (generation !== this._generation) return;
      if (msg.type === "model") {
        this.backend = msg.backend;
        this.modelCached = msg.cached;
      } else if (msg.type === "progress") {
        this._status.textContent = `decoding ${Math.round((100 * msg.done) / msg.total)}%`;
        this._fire("progress", { done: msg.done, total: msg.total });
      } else if (msg.type === "error") {
        this._fail(msg.reason, msg.message);
      } else if (msg.type === "frames") {
        this._ready(msg);
      }
    });
  }

  _ready(clip) {
    this._clip = clip;
    this._canvas.width = clip.width;
    this._canvas.height = clip.height;
    this._frameBytes = clip.width * clip.height * 4;
    this._poster.hidden = true;
    this._status.textContent = "";
    this.readyState = 4;
    this._draw();
    this._fire("canplay");
    const reduced = window.matchMedia?.("(prefers-reduced-motion: reduce)").matches;
    if ((this.hasAttribute("autoplay") && !reduced) || this._waitingToPlay) this.play();
  }

  /** The RGBA bytes of frame `i` (for tests and tools). */
  frameData(i) {
    if (!this._clip) return null;
    return new Uint8ClampedArray(this._clip.rgba.buffer, i * this._frameBytes, this._frameBytes);
  }

  _draw() {
    const c = this._clip;
    if (!c) return;
    const ctx = this._canvas.getContext("2d");
    ctx.putImageData(new ImageData(this.frameData(this._frame), c.width, c.height), 0, 0);
    this._bar.value = c.frames > 1 ? this._frame / (c.frames - 1) : 1;
  }

  play() {
    if (!this._clip) {
      this._waitingToPlay = true;
      if (this.readyState === 0 && !this._generation) this.load();
      return Promise.resolve();
    }
    this._waitingToPlay = false;
    if (!this._paused) return Promise.resolve();
    if (this._ended) {
      this._frame = 0;
      this._ended = false;
    }
    this._paused = false;
    this._button.textContent = "❚❚";
    this._button.setAttribute("aria-label", "Pause");
    this._fire("play");
    const frameMs = (1000 * this._clip.fpsDen) / this._clip.fpsNum;
    let last = performance.now();
    const tick = (now) => {
      if (this._paused) return;
      while (now - last >= frameMs) {
        last += frameMs;
        if (this._frame + 1 < this._clip.frames) {
          this._frame++;
        } else if (this.hasAttribute("loop")) {
          this._frame = 0;
        } else {
          this._draw();
          this._stop(true);
          return;
        }
      }
      this._draw();
      this._raf = requestAnimationFrame(tick);
    };
    this._raf = requestAnimationFrame(tick);
    return Promise.resolve();
  }

  pause() {
    this._waitingToPlay = false;
    if (!this._paused) this._stop(false);
  }

  _stop(ended) {
    cancelAnimationFrame(this._raf);
    this._paused = true;
    this._ended = ended;
    this._button.textContent = "▶";
    this._button.setAttribute("aria-label", "Play");
    this._fire(ended ? "ended" : "pause");
    if (ended) this._fire("pause");
  }
}

if (!customElements.get("lora-video")) customElements.define("lora-video", LoraVideoElement);
