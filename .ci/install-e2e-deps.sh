#!/usr/bin/env bash
# Installs what the end-to-end suite in e2e/ needs: a headless browser,
# Redis and PostgreSQL servers, and the Node packages of the test provider.
# Safe to run more than once.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

sudo=""
if [ "$(id -u)" -ne 0 ]; then
	sudo="sudo"
fi

pkgs=(chromium fonts-liberation redis-server postgresql ca-certificates)
missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
if [ "${#missing[@]}" -gt 0 ]; then
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -q
	$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The Debian packages start their own services; the suite runs its own
# throwaway servers on free ports, so the default ones are not needed.
# (Ignored where there is no service manager.)
$sudo service redis-server stop >/dev/null 2>&1 || true
$sudo service postgresql stop >/dev/null 2>&1 || true

cd "$root/e2e/provider"
npm ci --no-audit --no-fund
