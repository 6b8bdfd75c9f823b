#!/usr/bin/env bash
# Build web/dist (scripts/build-web.sh) and serve it on http://127.0.0.1:${PORT:-8000}/demo/.
# Any static file server works: the site needs no special headers.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/fetch-data.sh --test >/dev/null   # the demo's original frames (ffmpeg, if installed)
bash scripts/build-web.sh
port=${PORT:-8000}
echo "open http://127.0.0.1:$port/demo/"
exec python3 -m http.server "$port" --bind 127.0.0.1 --directory web/dist
