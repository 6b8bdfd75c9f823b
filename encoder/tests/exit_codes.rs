//! The real binary's exit codes: 0 ok, 1 bad input or usage, 2 I/O.

use std::process::Command;

fn status(args: &[&str]) -> i32 {
    Command::new(env!("CARGO_BIN_EXE_lora-video")).args(args).output().unwrap().status.code().unwrap()
}

#[test]
fn exit_codes() {
    let golden = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/tests/golden/minimal.lvc");
    assert_eq!(status(&["info", golden]), 0);
    assert_eq!(status(&["--version"]), 0);
    assert_eq!(status(&["info", env!("CARGO_MANIFEST_DIR")]), 2, "a directory is an I/O error");
    assert_eq!(status(&["info", "/nonexistent.lvc"]), 2);
    assert_eq!(status(&["info", concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")]), 1);
    assert_eq!(status(&["bogus"]), 1);
}
