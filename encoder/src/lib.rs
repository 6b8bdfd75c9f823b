//! The lora-video command-line codec, as a library so tests can drive it in-process.

pub mod cli;
pub mod corpus;
pub mod error;
pub mod info;
pub mod io;
pub mod pack;
pub mod train;
