#!/usr/bin/env bash
# Set up everything the tests need on a fresh machine, then lint, type-check and test.
# Extra arguments go to pytest (e.g. scripts/test.sh tests/parsers -x).
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || need+=(prometheus-alertmanager)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # The packages start system services; the tests run their own instances on free ports.
  systemctl stop prometheus prometheus-alertmanager >/dev/null 2>&1 || true
fi
scripts/setup.sh --test
.venv/bin/ruff check logwatch parsers rules tests bench
.venv/bin/ruff format --check logwatch parsers rules tests bench
.venv/bin/mypy
.venv/bin/python -m pytest -W error -p no:cacheprovider "$@"
