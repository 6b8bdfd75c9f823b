#!/usr/bin/env bash
# Fuzz the .lvc and .lvm readers for SECONDS each (default 60), or for RUNS executions
# each when RUNS is set (RUNS=10000000 bash scripts/fuzz.sh), the targets in TARGETS
# (default "parse_lvm parse_lvc"), with cargo fuzz (libFuzzer + AddressSanitizer).
# FLAGS adds `cargo fuzz run` options, e.g. FLAGS="-a -s none --no-trace-compares":
# overflow checks and debug assertions (an arithmetic overflow on hostile input fails
# the run), no ASan (the readers are safe Rust), and no tracing of comparisons (most of
# parse_lvc's time is spent there: docs/FUZZING.md). cargo fuzz needs nightly flags;
# RUSTC_BOOTSTRAP=1 lets the stable toolchain accept them. Needs
# `cargo install cargo-fuzz`. Results: docs/FUZZING.md.
set -euo pipefail
secs=${1:-60}
limit=-max_total_time=$secs
[ -n "${RUNS:-}" ] && limit=-runs=$RUNS
cd "$(dirname "$0")/../fuzz"
mkdir -p corpus/parse_lvc corpus/parse_lvm
export RUSTC_BOOTSTRAP=1
for target in ${TARGETS:-parse_lvm parse_lvc}; do
    case $target in
        parse_lvm) seeds=seeds/parse_lvm ;;
        parse_lvc) seeds=../shared/tests/golden ;;
        *) echo "unknown target $target" >&2; exit 2 ;;
    esac
    cargo fuzz run -O ${FLAGS:-} "$target" "corpus/$target" "$seeds" -- "$limit" -print_final_stats=1
done
