//! The lora-video command-line codec, as a library so tests can drive it in-process.

pub mod cli;
pub mod corpus;
pub mod decode;
pub mod device;
pub mod encode;
pub mod error;
pub mod eval;
pub mod fit;
pub mod info;
pub mod io;
pub mod media;
pub mod metrics;
pub mod model;
pub mod motion;
pub mod output;
pub mod pack;
pub mod restore_fit;
pub mod scaling;
pub mod sketch;
pub mod sketch_fit;
pub mod train;
