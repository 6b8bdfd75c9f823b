//! Decoding on a device: WebGPU (or a native GPU through wgpu) when one is offered, else
//! burn's flex backend on the CPU.

use std::rc::Rc;

use burn::tensor::Device;
use lora_video_shared::format::Bitstream;
use lora_video_shared::model::base::BaseModel;
use lora_video_shared::model::render::{self, Controls};
use wasm_bindgen::prelude::*;

use crate::DecodeError;

/// Where decoding runs.
#[wasm_bindgen]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// WebGPU in a browser (wgpu natively).
    Gpu = 0,
    /// burn's flex backend on the CPU.
    Cpu = 1,
}

/// A decoded clip: `frames` frames of `width` x `height`, RGBA8, frame after frame.
#[wasm_bindgen(getter_with_clone)]
#[derive(Clone, Debug)]
pub struct DecodedClip {
    pub width: u32,
    pub height: u32,
    pub frames: u32,
    /// Frame rate as a fraction.
    pub fps_num: u32,
    pub fps_den: u32,
    pub rgba: Vec<u8>,
}

struct Inner {
    model: BaseModel,
    device: Device,
    backend: Backend,
}

/// A loaded base model on one device; decodes any number of clips made for it.
#[wasm_bindgen]
#[derive(Clone)]
pub struct Decoder(Rc<Inner>);

impl Decoder {
    /// The GPU when `gpu` and an adapter is there, else the CPU.
    async fn device(gpu: bool) -> (Device, Backend) {
        #[cfg(feature = "gpu")]
        if gpu {
            if let Ok(d) = Device::wgpu_options().init_async().await {
                return (d, Backend::Gpu);
            }
        }
        let _ = gpu;
        (Device::flex(), Backend::Cpu)
    }

    /// Loads the `.lvm` bytes.
    pub async fn open(model: &[u8], gpu: bool) -> Result<Self, DecodeError> {
        let (device, backend) = Self::device(gpu).await;
        let model = BaseModel::from_bytes(model, &device)?;
        Ok(Self(Rc::new(Inner { model, device, backend })))
    }

    /// Decodes a `.lvc` under `controls` (default: as encoded), with `mix_clip`'s LoRA
    /// update added when given; `on_progress(done, total)` after each sampler step and
    /// each frame.
    pub async fn decode_frames(&self, clip: &[u8], controls: &Controls, mix_clip: Option<&[u8]>, mut on_progress: impl FnMut(u32, u32)) -> Result<DecodedClip, DecodeError> {
        let inner = &self.0;
        let clip = Bitstream::read(clip)?;
        let h = &clip.header;
        render::check(&inner.model, h)?;
        let theta = clip.theta()?;
        let other = mix_clip.map(Bitstream::read).transpose()?;
        let other_theta = other.as_ref().map(|o| o.theta()).transpose()?;
        let merge = other.as_ref().zip(other_theta.as_deref()).map(|(o, theta)| controls.merge(&o.header, theta));
        let render = controls.render(h);
        let total = (render.steps + render.frames) as u32;
        let mut done = 0;
        let z = render::latents_merged(&inner.model, h, &theta, &render, merge, &inner.device, |_| {
            done += 1;
            on_progress(done, total);
        })?;
        let frames = render::frames_async(&inner.model, z, |_| {
            done += 1;
            on_progress(done, total);
        })
        .await?;
        let rgba = frames.rgb.chunks_exact(3).flat_map(|p| [p[0], p[1], p[2], 255]).collect();
        Ok(DecodedClip {
            width: frames.width as u32,
            height: frames.height as u32,
            frames: frames.count as u32,
            fps_num: u32::from(h.fps.num),
            fps_den: u32::from(h.fps.den),
            rgba,
        })
    }
}

/// Render controls from a JS object `{seed, strength, steps, mix, sharpen}` (numbers; any may be
/// missing or undefined), `sketch: "off"`, its `mixClip` and `sketchClip` (Uint8Arrays;
/// the clip whose sketch replaces the clip's). A wrong type is an `Unsupported` error
/// naming the field.
fn controls_of(options: &JsValue) -> Result<(Controls, Option<Vec<u8>>), DecodeError> {
    if options.is_undefined() || options.is_null() {
        return Ok((Controls::default(), None));
    }
    let bad = |field: &str, why: &str| DecodeError { code: crate::ErrorCode::Unsupported, message: format!("render option {field}: {why}") };
    let get = |field: &str| js_sys::Reflect::get(options, &JsValue::from_str(field)).ok().filter(|v| !v.is_undefined() && !v.is_null());
    let number = |field: &str| -> Result<Option<f64>, DecodeError> {
        match get(field) {
            None => Ok(None),
            Some(v) => v.as_f64().filter(|x| x.is_finite()).map(Some).ok_or_else(|| bad(field, "not a finite number")),
        }
    };
    let whole = |field: &str, max: f64| -> Result<Option<u64>, DecodeError> {
        match number(field)? {
            Some(x) if x.fract() == 0.0 && (0.0..=max).contains(&x) => Ok(Some(x as u64)),
            Some(_) => Err(bad(field, &format!("must be a whole number in 0..={max}"))),
            None => Ok(None),
        }
    };
    let controls = Controls {
        seed: whole("seed", 9_007_199_254_740_991.0)?,
        strength: number("strength")?.map(|x| x as f32),
        steps: whole("steps", 1e6)?.map(|x| x as usize),
        frames: None,
        size: None,
        mix: number("mix")?.map(|x| x as f32),
        sharpen: number("sharpen")?.map(|x| x as f32),
        sketch: match get("sketch").map(|v| v.as_string()) {
            None => None,
            Some(Some(s)) if s == "off" => Some(None),
            Some(_) => return Err(bad("sketch", "the only value is \"off\"")),
        },
    };
    let bytes = |field: &str| -> Result<Option<Vec<u8>>, DecodeError> {
        match get(field) {
            None => Ok(None),
            Some(v) => Ok(Some(v.dyn_into::<js_sys::Uint8Array>().map_err(|_| bad(field, "not a Uint8Array"))?.to_vec())),
        }
    };
    let (mix_clip, sketch_clip) = (bytes("mixClip")?, bytes("sketchClip")?);
    let mut controls = controls;
    if let Some(b) = sketch_clip {
        let other = Bitstream::read(&b)?;
        let s = render::SketchOf::of(&other.header).ok_or_else(|| bad("sketchClip", "that clip has no sketch"))?;
        controls.sketch = Some(Some(s));
    }
    Ok((controls, mix_clip))
}

#[wasm_bindgen]
impl Decoder {
    /// Loads a base model (the `.lvm` bytes; the caller checks its SHA-256 first).
    /// `gpu`: try WebGPU, falling back to the CPU. Resolves to a `Decoder`; rejects with a
    /// `DecodeError`.
    pub fn load(model: Vec<u8>, gpu: bool) -> js_sys::Promise {
        #[cfg(target_arch = "wasm32")]
        console_error_panic_hook::set_once();
        wasm_bindgen_futures::future_to_promise(async move { Decoder::open(&model, gpu).await.map(JsValue::from).map_err(JsValue::from) })
    }

    /// The backend in use.
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> Backend {
        self.0.backend
    }

    /// SHA-256 of the loaded model, lowercase hex.
    #[wasm_bindgen(getter, js_name = modelSha256)]
    pub fn model_sha256(&self) -> String {
        lora_video_shared::to_hex(&self.0.model.sha256)
    }

    /// Decodes a clip. `on_progress(done, total)` is called as sampler steps and frames
    /// complete. Resolves to a `DecodedClip`; rejects with a `DecodeError`.
    pub fn decode(&self, clip: Vec<u8>, on_progress: Option<js_sys::Function>) -> js_sys::Promise {
        let this = self.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let progress = |done: u32, total: u32| {
                if let Some(f) = &on_progress {
                    let _ = f.call2(&JsValue::NULL, &JsValue::from(done), &JsValue::from(total));
                }
            };
            this.decode_frames(&clip, &Controls::default(), None, progress).await.map(JsValue::from).map_err(JsValue::from)
        })
    }

    /// Re-renders a clip under `options`: `{seed, strength, steps, mix, mixClip}` (see
    /// `lora-video render`; `mixClip` is a second clip's bytes whose LoRA update is added
    /// with weight `mix`, default 1). Resolves to a `DecodedClip`; rejects with a `DecodeError`.
    pub fn render(&self, clip: Vec<u8>, options: JsValue, on_progress: Option<js_sys::Function>) -> js_sys::Promise {
        let this = self.clone();
        let parsed = controls_of(&options);
        wasm_bindgen_futures::future_to_promise(async move {
            let (controls, mix_clip) = parsed.map_err(JsValue::from)?;
            let progress = |done: u32, total: u32| {
                if let Some(f) = &on_progress {
                    let _ = f.call2(&JsValue::NULL, &JsValue::from(done), &JsValue::from(total));
                }
            };
            this.decode_frames(&clip, &controls, mix_clip.as_deref(), progress).await.map(JsValue::from).map_err(JsValue::from)
        })
    }
}
