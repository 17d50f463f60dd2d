#!/usr/bin/env bash
# The machine a guide runs on, made inside fresh mount, network and PID namespaces (see session.ts):
# only loopback, so the guides' fixed ports (8080, 9000, 9101…) cannot meet anything else; a private
# /tmp; /etc, /var/lib and /mnt writable only in here (overlays and a tmpfs), so /etc/podkit and
# /var/lib/podkit are real paths without touching the machine's own; no systemd (as in a
# container: systemctl finds no /run/systemd/system), whatever the test machine runs. Everything
# started here dies with this shell (PID 1 of the namespace).
#
# Environment from session.ts: PKDOC_OUT (a directory outside, for the block files), PKDOC_NODE,
# PKDOC_CLI (the built CLI), PKDOC_REPO (the checkout it lies in), PKDOC_FAKE_SMI and
# PKDOC_SMI_CAPTURE (the recorded nvidia-smi).
set -u
exec 9<"$PKDOC_OUT"
out=/proc/1/fd/9

ip link set lo up
# A checkout under /tmp (CI clones there) would vanish under the private /tmp: park it on /mnt
# (replaced by a tmpfs below anyway) and move it back to its own path once the tmpfs is in place.
case "$PKDOC_REPO" in /tmp/*) mount --bind "$PKDOC_REPO" /mnt && repo_parked=1 ;; esac
mount -t tmpfs -o mode=1777 pkdoc-tmp /tmp
if [ -n "${repo_parked:-}" ]; then mkdir -p "$PKDOC_REPO" && mount --move /mnt "$PKDOC_REPO"; fi
for d in etc varlib; do mkdir -p "/tmp/.pkdoc/$d/up" "/tmp/.pkdoc/$d/work"; done
mount -t overlay pkdoc-etc -o lowerdir=/etc,upperdir=/tmp/.pkdoc/etc/up,workdir=/tmp/.pkdoc/etc/work /etc
mount -t overlay pkdoc-varlib -o lowerdir=/var/lib,upperdir=/tmp/.pkdoc/varlib/up,workdir=/tmp/.pkdoc/varlib/work /var/lib
mount -t tmpfs pkdoc-mnt /mnt
mkdir -p /run/systemd && mount -t tmpfs pkdoc-no-systemd /run/systemd

bin=/tmp/.pkdoc/bin
mkdir -p "$bin" /tmp/home
printf '#!/bin/sh\nexec %q %q "$@"\n' "$PKDOC_NODE" "$PKDOC_CLI" >"$bin/podkit"
printf '#!/bin/sh\nFAKE_SMI_CAPTURE=%q exec %q "$@"\n' "$PKDOC_SMI_CAPTURE" "$PKDOC_FAKE_SMI" >"$bin/nvidia-smi"
chmod 0755 "$bin/podkit" "$bin/nvidia-smi"
# The guides say `sudo`; this shell is root already.
if ! command -v sudo >/dev/null; then printf '#!/bin/sh\nexec "$@"\n' >"$bin/sudo" && chmod 0755 "$bin/sudo"; fi

# A fresh login: nothing of the test runner's environment but PATH (with podkit first).
path="$bin:$PATH"
unset $(compgen -e)
export PATH="$path" HOME=/tmp/home TMPDIR=/tmp LANG=C.UTF-8 TERM=dumb USER=root LOGNAME=root SHELL=/bin/bash
cd "$HOME"

# Run block N (N.sh in the out directory) in this shell, so exports and cd carry to the next block;
# its status is that of the first command that failed (0 if none), as a reader would notice it.
__pkdoc_fg() {
  __pkdoc_rc=0
  set -E -o pipefail
  trap '__pkdoc_r=$?; [ "$__pkdoc_rc" -ne 0 ] || __pkdoc_rc=$__pkdoc_r' ERR
  source "$out/$1.sh" </dev/null >"$out/$1.out" 2>&1
  trap - ERR
  set +E +o pipefail
  echo "__pkdoc__ $1 $__pkdoc_rc"
}

# Start block N in the background (a server, a receiver) in a process group of its own, as a
# second terminal would; its output goes on to N.out, its status to N.exit when it ends.
__pkdoc_jobs=()
__pkdoc_bg() {
  set -m
  ( (set -o pipefail; source "$out/$1.sh") </dev/null >"$out/$1.out" 2>&1; echo $? >"$out/$1.exit") &
  __pkdoc_jobs+=("$!")
  set +m
  echo "__pkdoc__ $1 0"
}

# Ctrl-C in each of those terminals, then wait for them to end.
__pkdoc_interrupt() {
  local pid
  for pid in "${__pkdoc_jobs[@]}"; do kill -INT -- "-$pid" 2>/dev/null; done
  for pid in "${__pkdoc_jobs[@]}"; do
    for _ in $(seq 1 50); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL -- "-$pid" 2>/dev/null
  done
  __pkdoc_jobs=()
  echo "__pkdoc__ $1 0"
}

echo "__pkdoc__ ready 0"
while IFS= read -r __pkdoc_line; do eval "$__pkdoc_line"; done
