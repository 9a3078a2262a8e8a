#!/usr/bin/env bash
# Install the services the observability tests run for real (SPEC §14), from Debian:
#   prometheus-pushgateway  the Pushgateway binary (tests/integration/test_pushgateway.py)
#   jq                      the original CI gates read the report with it (tests/cli)
#   prometheus              for promtool (alert rule checks and unit tests); without its
#                           Recommends, which would pull in ~370 MB (node exporter, smartmontools...)
#   shellcheck (the linter) lints the run: blocks of the documented GitHub Actions workflows
#   chromium                opens the HTML report headless: its DOM and a screenshot
#                           (tests/plugin/test_html_browser.py)
# Idempotent: does nothing when every binary is already there. Needs root (or sudo) and apt.
# The packages' services do not start on install in containers (policy-rc.d); the tests start
# and stop the binaries themselves.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }

missing=()
have prometheus-pushgateway || have pushgateway || [ -x /usr/bin/prometheus-pushgateway ] ||
  missing+=(prometheus-pushgateway)
have promtool || missing+=(prometheus)
have jq || missing+=(jq)
have shellcheck || missing+=(shellcheck)
have chromium || have chromium-browser || missing+=(chromium)

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-services: prometheus-pushgateway, promtool, jq, shellcheck and chromium already installed"
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  have sudo || { echo "install-services: need root or sudo to install ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-services: installing ${missing[*]}"
"${sudo[@]}" apt-get update -qq
for package in "${missing[@]}"; do
  if [ "$package" = prometheus ]; then
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  else
    "${sudo[@]}" apt-get install -y -qq "$package" >/dev/null
  fi
done

have promtool || { echo "install-services: promtool still missing" >&2; exit 1; }
[ -x /usr/bin/prometheus-pushgateway ] || have pushgateway ||
  { echo "install-services: prometheus-pushgateway still missing" >&2; exit 1; }
have chromium || have chromium-browser ||
  { echo "install-services: chromium still missing" >&2; exit 1; }
echo "install-services: done"
