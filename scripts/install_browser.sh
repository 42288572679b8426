#!/usr/bin/env bash
# Install Debian's headless Chromium and its driver for the browser test (tests/flows/test_ui_browser.py).
# Skipped when /usr/bin/chromium exists. Needs root (or sudo) and the apt repositories.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  echo "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo present)"
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y chromium chromium-driver
