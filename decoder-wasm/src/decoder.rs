//! Decoding on a device: WebGPU (or a native GPU through wgpu) when one is offered, else
//! burn's flex backend on the CPU.

use std::rc::Rc;

use burn::tensor::Device;
use lora_video_shared::format::Bitstream;
use lora_video_shared::model::base::BaseModel;
use lora_video_shared::model::render::{self, Render};
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

    /// Decodes a `.lvc` under `render` (None: as encoded); `on_progress(done, total)`
    /// after each sampler step and each frame.
    pub async fn decode_frames(&self, clip: &[u8], render: Option<Render>, mut on_progress: impl FnMut(u32, u32)) -> Result<DecodedClip, DecodeError> {
        let inner = &self.0;
        let clip = Bitstream::read(clip)?;
        let h = &clip.header;
        render::check(&inner.model, h)?;
        let theta = clip.theta()?;
        let render = render.unwrap_or_else(|| Render::of(h));
        let total = (render.steps + usize::from(h.frames)) as u32;
        let mut done = 0;
        let z = render::latents(&inner.model, h, &theta, &render, &inner.device, |_| {
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
            this.decode_frames(&clip, None, progress).await.map(JsValue::from).map_err(JsValue::from)
        })
    }
}
