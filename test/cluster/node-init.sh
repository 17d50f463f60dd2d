#!/bin/sh
# PID 1 of one simulated node (run inside its netns with new mount, UTS and PID namespaces):
# copy-on-write root over the host's /, private /dev /run /tmp /root, its own hostname, then sshd.
set -e
i="$1"; dir="$2"; gpus="$3"; repo="${4:-}"; rdma="${5:-}"
M="$dir/root"; RW="$dir/rw"
mkdir -p "$M" "$RW"
mount -t tmpfs -o size=2g,mode=0755 "pk-rw-$i" "$RW"
mkdir -p "$RW/upper" "$RW/work"
mount -t overlay "pk-node-$i" -o "lowerdir=/,upperdir=$RW/upper,workdir=$RW/work" "$M"
mount -t proc proc "$M/proc"
mount -t sysfs sysfs "$M/sys"
if mountpoint -q /sys/fs/cgroup; then mount --rbind /sys/fs/cgroup "$M/sys/fs/cgroup"; fi
if [ "$rdma" = 1 ]; then
  # No RDMA hardware here: tests write fake /sys/class/infiniband trees. sysfs takes no new
  # directory, so this node's /sys/class becomes a tmpfs of binds of the real classes plus an
  # empty, writable infiniband/.
  S="$dir/sysclass"; mkdir -p "$S"; mount -t tmpfs -o mode=0755 "sysclass-node-$i" "$S"
  for c in "$M"/sys/class/*; do mkdir "$S/${c##*/}"; mount --bind "$c" "$S/${c##*/}"; done
  mkdir "$S/infiniband"
  mount --move "$S" "$M/sys/class"
fi
mount -t tmpfs -o mode=0755,nosuid,size=1m "dev-node-$i" "$M/dev"
for d in null zero full random urandom tty; do : > "$M/dev/$d"; mount --bind "/dev/$d" "$M/dev/$d"; done
mkdir -p "$M/dev/pts" "$M/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 "devpts-node-$i" "$M/dev/pts"
ln -s pts/ptmx "$M/dev/ptmx"
mount -t tmpfs -o mode=1777 "shm-node-$i" "$M/dev/shm"
ln -s /proc/self/fd "$M/dev/fd"; ln -s /proc/self/fd/0 "$M/dev/stdin"
ln -s /proc/self/fd/1 "$M/dev/stdout"; ln -s /proc/self/fd/2 "$M/dev/stderr"
g=0
while [ "$g" -lt "$gpus" ]; do mknod -m 0666 "$M/dev/nvidia$g" c 195 "$g"; g=$((g + 1)); done
[ "$gpus" -gt 0 ] && mknod -m 0666 "$M/dev/nvidiactl" c 195 255
mount -t tmpfs -o mode=1777 "tmp-node-$i" "$M/tmp"
mount -t tmpfs -o mode=0755 "run-node-$i" "$M/run"
mkdir -p "$M/run/sshd" "$M/run/lock"; chmod 1777 "$M/run/lock"
mount -t tmpfs -o mode=0700 "root-node-$i" "$M/root"
cp -a /etc/skel/. "$M/root/"
# Tests run the built podkit inside the nodes: keep the checkout visible when it lies under a
# path the node replaces with its own (a CI clone in /tmp, say).
if [ -n "$repo" ] && [ -d "$repo" ]; then mkdir -p "$M$repo"; mount --bind "$repo" "$M$repo"; fi
cp -a "$dir/inject/." "$M/"
chown -R root:root "$M/root/.ssh"; chmod 700 "$M/root/.ssh"; chmod 600 "$M/root/.ssh/authorized_keys"
if [ -d "$M/etc/munge" ]; then
  head -c 1024 /dev/urandom > "$M/etc/munge/munge.key"
  chown munge:munge "$M/etc/munge/munge.key"; chmod 0400 "$M/etc/munge/munge.key"
fi
hostname "node-$i"
cd "$M"
exec chroot "$M" /usr/sbin/sshd -D -e -f /etc/ssh/pk_sshd_config
