#!/usr/bin/env bash
# tests/deps.sh: install what ferry needs that is missing (Debian packages, npm modules).
#   tests/deps.sh build   compiler, libraries (libpq, MariaDB Connector/C), PostgreSQL
#   tests/deps.sh demo    the above plus curl and jq
#   tests/deps.sh bench   the above plus the reference tools make bench times and a MariaDB server
#   tests/deps.sh loadtest  the above plus wrk
#   tests/deps.sh test    the above plus what the tests use (a MariaDB server among them)
# As root it installs with apt-get; otherwise it names what to install and fails.
set -euo pipefail
cd "$(dirname "$0")/.."

want=(gcc make pkg-config libmicrohttpd-dev libjansson-dev libpq-dev libmariadb-dev uuid-dev zlib1g-dev
	postgresql)
if [ "${1:-build}" = demo ]; then
	want+=(curl jq)
fi
if [ "${1:-build}" = loadtest ]; then
	want+=(curl jq wrk)
fi
if [ "${1:-build}" = bench ]; then
	want+=(curl jq pgcopydb pgloader postgresql-contrib mariadb-server mariadb-client)
	command -v node >/dev/null 2>&1 || want+=(nodejs)
fi
if [ "${1:-build}" = test ]; then
	want+=(libcmocka-dev curl jq chromium fonts-liberation clang libclang-rt-14-dev
		mariadb-server mariadb-client)
	command -v node >/dev/null 2>&1 || want+=(nodejs)
	command -v npm >/dev/null 2>&1 || want+=(npm)
fi

missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "ferry needs these Debian packages: ${missing[*]}" >&2
		echo "install them with: sudo apt-get install -y ${missing[*]}" >&2
		exit 1
	fi
	echo "installing Debian packages: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "${1:-build}" = test ] && [ ! -f tests/node_modules/.package-lock.json ] ||
	[ "${1:-build}" = test ] && [ tests/package-lock.json -nt tests/node_modules/.package-lock.json ]; then
	echo "installing npm modules for the tests"
	(cd tests && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
exit 0
