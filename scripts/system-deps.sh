#!/usr/bin/env bash
# Debian packages the book and the tests use: chromium (the built book opened in a headless
# browser) and nodejs + npm (the page "Separate your own song" installs its npm packages,
# onnxruntime-web and fft.js, with `npm ci` when the book is built). Installed with apt-get
# when run as root; otherwise a note says what is missing.
# Audio decoding needs none: PyAV's wheels carry FFmpeg's libraries.
#   scripts/system-deps.sh        all of them (make test)
#   scripts/system-deps.sh node   nodejs and npm only (make book)
set -euo pipefail
missing=()
if [ "${1:-all}" != "node" ]; then
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
fi
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ "${#missing[@]}" = "0" ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "note: not installed: ${missing[*]}; the browser tests of the book are skipped and" >&2
  echo "      the page 'Separate your own song' says what it needs." >&2
  echo "      on Debian/Ubuntu: sudo apt-get install -y ${missing[*]}" >&2
fi
