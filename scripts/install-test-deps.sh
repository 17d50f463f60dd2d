#!/usr/bin/env bash
# Installs the Debian packages that Podkit's tests drive for real (S3 clients, Prometheus,
# PostgreSQL, Chromium, sshd, Slurm, torch, stress-ng …). Idempotent: packages already
# present are skipped. Each area lists its packages in scripts/test-deps/<area>.txt.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mapfile -t wanted < <(cat "$here"/test-deps/*.txt | sed 's/#.*//' | tr -s ' \t' '\n' | grep -v '^$' | sort -u)
missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-test-deps: all ${#wanted[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
echo "install-test-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
$SUDO apt-get install -y --no-install-recommends -qq "${missing[@]}" >/dev/null
echo "install-test-deps: done"
