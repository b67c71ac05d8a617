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

# Dex, the second provider, built from source through the Go module proxy at
# the version pinned in e2e/dex/dex.env, once: into a cache that the tests
# look in (E2E_CACHE_DIR, else $XDG_CACHE_HOME/oidcauth-e2e, else
# ~/.cache/oidcauth-e2e). `go install github.com/dexidp/dex/cmd/dex@VERSION`
# refuses it, since Dex's go.mod has a replace directive (for its api/v2
# module); a throwaway module that requires Dex builds the same packages,
# with api/v2 at the version Dex's go.mod requires, and go.sum checked
# against the checksum database as usual.
. "$root/e2e/dex/dex.env"
dex_cache="${E2E_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/oidcauth-e2e}"
dex_dir="$dex_cache/dex/$DEX_RELEASE-${DEX_VERSION##*-}"
if [ -x "$dex_dir/dex" ]; then
	echo "install-e2e-deps: Dex $DEX_RELEASE is built: $dex_dir/dex"
else
	if ! command -v go >/dev/null 2>&1; then
		echo "install-e2e-deps: building Dex needs the go command; install Go and run again" >&2
		exit 1
	fi
	echo "install-e2e-deps: building Dex $DEX_RELEASE ($DEX_MODULE@$DEX_VERSION) into $dex_dir; the first time takes minutes"
	dex_build="$(mktemp -d)"
	trap 'rm -rf "$dex_build"' EXIT
	dex_start=$SECONDS
	mkdir -p "$dex_dir"
	(
		cd "$dex_build"
		printf 'module oidcauth-e2e-dex-build\n\ngo 1.25\n' >go.mod
		if ! go get "$DEX_MODULE/cmd/dex@$DEX_VERSION" >get.log 2>&1; then
			cat get.log >&2
			exit 1
		fi
		# No cgo: Dex's SQLite storage is left out; the tests use its
		# in-memory storage.
		CGO_ENABLED=0 go build -trimpath -ldflags "-w -X main.version=$DEX_RELEASE" \
			-o "$dex_dir/dex.tmp" "$DEX_MODULE/cmd/dex"
	)
	mv "$dex_dir/dex.tmp" "$dex_dir/dex"
	echo "install-e2e-deps: built Dex in $((SECONDS - dex_start))s: $("$dex_dir/dex" version | head -n 1)"
fi
