"""PyTorch trainer for the lora-video base denoiser (a mirror of `shared/src/model/denoiser.rs`)."""
