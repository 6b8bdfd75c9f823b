//! The compute backend, chosen at run time: burn's `flex` on the CPU, or a GPU through
//! wgpu (Vulkan, Metal, DX12 or GL, as the machine offers) when built with the `gpu`
//! feature (on by default). CUDA is not offered: burn's CUDA backend cannot be built
//! offline.

use burn::tensor::Device;

use crate::error::CliError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// burn's flex backend on the CPU.
    Cpu,
    /// The best GPU adapter wgpu finds (set CUBECL_WGPU_DEFAULT_DEVICE to pick another).
    Wgpu,
    /// wgpu pinned to Vulkan.
    Vulkan,
}

/// The device for `backend`; a missing adapter is an error (exit 4), not a panic.
pub fn device(backend: Backend) -> Result<Device, CliError> {
    #[cfg(feature = "gpu")]
    {
        use burn::tensor::wgpu::WgpuBackend;
        let api = match backend {
            Backend::Cpu => return Ok(Device::flex()),
            Backend::Wgpu => WgpuBackend::Auto,
            Backend::Vulkan => WgpuBackend::Vulkan,
        };
        Device::wgpu_options().graphics_api(api).init().map_err(|e| CliError::Tool(format!("--device {}: no working GPU adapter ({e}); use --device cpu", name(backend))))
    }
    #[cfg(not(feature = "gpu"))]
    match backend {
        Backend::Cpu => Ok(Device::flex()),
        other => Err(CliError::Tool(format!("--device {}: this build has no GPU backend; build with `--features gpu`", name(other)))),
    }
}

fn name(b: Backend) -> String {
    format!("{b:?}").to_lowercase()
}
