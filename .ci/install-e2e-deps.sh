#!/usr/bin/env bash
# Installs what the end-to-end suite in e2e/ needs: a headless browser,
# Redis and PostgreSQL servers, and the Node packages of the test provider
# (which bring their own Node.js 22 runtime). Safe to run more than once.
# The suite starts its own throwaway servers on free loopback ports, so it
# does not use or disturb the services these packages may start.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

sudo=""
if [ "$(id -u)" -ne 0 ]; then
	sudo="sudo"
fi

# chromium: the browser; fonts-liberation: fonts for its pages;
# redis-server (brings redis-cli) and postgresql (brings initdb, postgres,
# pg_isready and psql): the session stores.
pkgs=(chromium fonts-liberation redis-server postgresql ca-certificates)
if ! command -v npm >/dev/null 2>&1; then
	pkgs+=(nodejs npm)
fi

missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
if [ "${#missing[@]}" -gt 0 ]; then
	echo "install-e2e-deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -q
	$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

cd "$root/e2e/provider"
npm ci --no-audit --no-fund
