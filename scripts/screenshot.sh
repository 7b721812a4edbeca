#!/usr/bin/env bash
# Renders an HTML file (e.g. an `sbert similarity --report r.html` report) to a PNG with headless
# Chromium, to check that it opens and shows its plots. Installs nothing; needs chromium (or
# chromium-browser / google-chrome) on PATH or $CHROMIUM. No network access is used or needed.
#   scripts/screenshot.sh report.html [out.png] [WIDTHxHEIGHT]
set -euo pipefail
html=${1:?usage: scripts/screenshot.sh FILE.html [OUT.png] [WIDTHxHEIGHT]}
png=${2:-${html%.*}.png}
size=${3:-1200x900}
[ -f "$html" ] || { echo "screenshot: no such file: $html" >&2; exit 2; }
browser=${CHROMIUM:-}
if [ -z "$browser" ]; then
  for b in /usr/bin/chromium chromium chromium-browser google-chrome; do
    if command -v "$b" >/dev/null 2>&1; then browser=$(command -v "$b"); break; fi
  done
fi
[ -n "$browser" ] || { echo "screenshot: chromium not found (set CHROMIUM=/path/to/chromium)" >&2; exit 3; }
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
abs=$(cd "$(dirname "$html")" && pwd)/$(basename "$html")
case "$png" in /*) ;; *) png=$PWD/$png ;; esac
log=$profile/chromium.log
"$browser" --headless --no-sandbox --disable-gpu --disable-background-networking \
  --disable-component-update --disable-sync --no-first-run --user-data-dir="$profile" \
  --enable-logging=stderr --v=0 \
  --screenshot="$png" --window-size="${size/x/,}" "file://$abs" 2>"$log" || {
  cat "$log" >&2; echo "screenshot: chromium failed" >&2; exit 1; }
# Page errors (script errors, failed loads) show up as console messages in the log.
if grep -E "Uncaught|ERR_|Failed to load" "$log" | grep -v -E "dbus|gpu|GPU|viz" >&2; then
  echo "screenshot: the page logged errors (above)" >&2
  exit 1
fi
[ -s "$png" ] || { echo "screenshot: no PNG written" >&2; exit 1; }
echo "$png"
