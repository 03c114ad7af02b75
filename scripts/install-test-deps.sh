#!/usr/bin/env bash
# Installs the Debian packages the end-to-end tests drive (.ci/apt-packages.txt).
# Needs root or sudo; without either it says which packages are missing and the tests
# that need them are skipped with that reason.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
mapfile -t wanted < <(grep -Ev '^\s*(#|$)' "$here/.ci/apt-packages.txt")
missing=()
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The WebSocket interop tests run a real browser SIP library (JsSIP) in headless Chromium.
web="$here/tests/sip_transport/web"
if [ -f "$web/package-lock.json" ] && [ ! -d "$web/node_modules" ]; then
  if command -v npm >/dev/null; then
    npm ci --prefix "$web" --no-audit --no-fund --loglevel=error
  else
    echo "install-test-deps: no npm; the browser (WebSocket) interop tests will be skipped" >&2
  fi
fi
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "install-test-deps: no apt-get; missing: ${missing[*]} (their tests will be skipped)" >&2
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo -n"; else
    echo "install-test-deps: not root; missing: ${missing[*]} (their tests will be skipped)" >&2
    exit 0
  fi
fi
echo "install-test-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
