#!/usr/bin/env bash
# Inference-time scaling on the dev clips (bench/dev-clips.txt; 8 frames at 128x128):
# `lora-video eval-scaling` three times, each fitting every clip once:
#   sweep: budgets 600/1200/2400 bytes x M 64/256/1024 x the last 2/4/7 steps scaled;
#   large:  1200 bytes, all 7 steps, M 4096;
#   gumbel: 1200 bytes, all 7 steps, M 64/1024 chosen by Gumbel-max (the sweep's are greedy);
#   eta:    1200 bytes, all 7 steps, M 1024, eta 0.5 and 2 (the sweep's is 1).
# Writes docs/BENCHMARKS.md's "scaling" section, docs/images/scaling/*.png and
# docs/bench/scaling-*.csv. About 35 minutes on 2 cores once built.
#   bash scripts/bench-scaling.sh            (STAGES="sweep large gumbel eta" by default;
#   STAGES=" " rewrites the section from the last run's summaries)
set -euo pipefail
cd "$(dirname "$0")/.."
export LORA_VIDEO_DATA
LORA_VIDEO_DATA=$(bash scripts/fetch-data.sh --test | tail -1)
cargo build -j2 -q --release -p lora-video
bin=target/release/lora-video
[ -f base.lvm ] || $bin pack-base -o base.lvm
out=${OUT:-target/scaling}
stages=${STAGES:-sweep large gumbel eta}
mkdir -p "$out" docs/images/scaling docs/bench

run() { # name, extra arguments
    local name=$1
    shift
    local t0=$SECONDS
    $bin eval-scaling --list bench/dev-clips.txt -o "$out/$name" -q "$@" > /dev/null
    echo "$(( (SECONDS - t0) / 60 )) min" > "$out/$name/minutes"
    cp "$out/$name/scaling.csv" "docs/bench/scaling-$name.csv"
}
for stage in $stages; do
    case $stage in
        sweep) run sweep --bytes 600,1200,2400 --m 64,256,1024 --counts 2,4,7
               cp "$out"/sweep/*.png docs/images/scaling/ ;;
        large) run large --bytes 1200 --m 4096 --counts 7 ;;
        gumbel) run gumbel --bytes 1200 --m 64,1024 --counts 7 --choose gumbel ;;
        eta) run eta --bytes 1200 --m 1024 --counts 7 --eta 0.5,2 ;;
        *) echo "unknown stage $stage" >&2; exit 1 ;;
    esac
done

part() { # name, title
    [ -f "$out/$1/summary.md" ] || return 0
    printf '### %s\n\n`lora-video eval-scaling --list bench/dev-clips.txt %s` (%s; every row: docs/bench/scaling-%s.csv)\n\n' "$2" "$3" "$(cat "$out/$1/minutes")" "$1"
    cat "$out/$1/summary.md"
    echo
}
{
    echo "<!-- scaling:begin -->"
    echo "## Inference-time scaling"
    echo
    echo "\`bash scripts/bench-scaling.sh\`, $(date -u +%Y-%m-%d), $(nproc) cores, base model \`base.lvm\` ($(sha256sum base.lvm | cut -c1-12)...)."
    echo "Dev clips (bench/dev-clips.txt), 8 frames at 128x128, default preset, one fit per clip. Each budget's"
    echo "plain clip (\`encode --bytes B --scaling 0\`) is the reference. \"Added\": the same vector plus the scaling"
    echo "choices (quality against extra bits). \"Equal\": the choices inside the same budget, so the"
    echo "vector's quantiser is coarser (\`encode --bytes B --scaling M\`). Scaled steps n: the n steps"
    echo "before the last of 8. Plots (docs/images/scaling/): quality against choice bits at 1,200"
    echo "bytes, and against total bytes for M at 7 scaled steps:"
    for f in docs/images/scaling/*.png; do printf '[%s](%s) ' "$(basename "$f" .png)" "${f#docs/}"; done
    echo
    echo
    part sweep "M x scaled steps x budget" "--bytes 600,1200,2400 --m 64,256,1024 --counts 2,4,7"
    part large "Large M" "--bytes 1200 --m 4096 --counts 7"
    part gumbel "Gumbel-max instead of greedy" "--bytes 1200 --m 64,1024 --counts 7 --choose gumbel"
    part eta "Noise level eta" "--bytes 1200 --m 1024 --counts 7 --eta 0.5,2"
    echo "<!-- scaling:end -->"
} | python3 scripts/bench-section.py scaling
