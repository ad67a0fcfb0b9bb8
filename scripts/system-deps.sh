#!/usr/bin/env bash
# Debian packages the tests use: chromium (the built book opened in a headless browser).
# Audio decoding needs none: PyAV's wheels carry FFmpeg's libraries.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
else
  echo "note: chromium is not installed; the browser test of the book will be skipped." >&2
  echo "      on Debian/Ubuntu: sudo apt-get install -y chromium" >&2
fi
