#!/usr/bin/env bash
# Render an `oodforge benchmark` report.html in headless Chromium and save a screenshot, to check that the
# self-contained report opens without a server (file:// URL, no network) and renders.
#
# Usage: scripts/check_report_html.sh REPORT.html [SCREENSHOT.png]
#   SCREENSHOT defaults to REPORT.png next to the report. Prints the screenshot path and the render time.
#
# Environment:
#   CHROMIUM      the browser binary (default: `chromium`, else `chromium-browser`, from PATH)
#   WINDOW_SIZE   viewport WIDTH,HEIGHT in px (default 1280,2000); the screenshot has this size
#   TIMEOUT_S     seconds before the render is abandoned (default 60)
#
# The command it runs is, in essence:
#   chromium --headless --disable-gpu --no-sandbox --screenshot=OUT.png --window-size=1280,2000 file:///abs/report.html
# plus a throw-away profile (--user-data-dir), --hide-scrollbars, and no first-run / background networking.
# --no-sandbox is needed when running as root (CI containers). Install on Debian/Ubuntu:
#   apt-get update && apt-get install -y chromium
# Exit status: 0 rendered (screenshot written, non-empty), 2 bad usage or no browser, 1 render failed.
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 ]]; then
    sed -n '2,6p' "$0" >&2
    exit 2
fi
report=$(realpath -- "$1")
shot=${2:-${report%.*}.png}
[[ -f $report ]] || { echo "check_report_html: $1: no such file" >&2; exit 2; }

browser=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [[ -z $browser ]]; then
    echo "check_report_html: headless Chromium not found; install it: apt-get install -y chromium" >&2
    exit 2
fi

profile=$(mktemp -d)
trap 'rm -rf -- "$profile"' EXIT
rm -f -- "$shot"
start=${EPOCHREALTIME/[.,]/}
set +e
timeout "${TIMEOUT_S:-60}" "$browser" --headless --disable-gpu --no-sandbox --hide-scrollbars \
    --no-first-run --no-default-browser-check --disable-background-networking --disable-extensions \
    --user-data-dir="$profile" --screenshot="$shot" --window-size="${WINDOW_SIZE:-1280,2000}" \
    "file://$report" >"$profile/chromium.log" 2>&1
rc=$?
set -e
end=${EPOCHREALTIME/[.,]/}
elapsed=$(printf '%d.%02d' $(((end - start) / 1000000)) $(((end - start) / 10000 % 100)))
if [[ $rc -ne 0 || ! -s $shot ]]; then
    echo "check_report_html: chromium failed (exit $rc) after ${elapsed}s:" >&2
    tail -n 20 "$profile/chromium.log" >&2
    exit 1
fi
printf 'screenshot %s (%s bytes) in %s s\n' "$shot" "$(stat -c %s "$shot")" "$elapsed"
