#!/usr/bin/env bash
# Storage faults never take the node down (issue 21, section 3), on real small tmpfs mounts:
#  1. --cache-dir on an 11 MiB tmpfs (the tiny model's packed weights take 9.9 MiB of it): many
#     distinct prompts through `pio chat --node`, every one answered after the disk fills; the
#     cache says once that its disk tiers went memory-only, and says they are back after space
#     is freed (the pack file deleted: the node holds its weights in memory).
#  2. The pack cache on a 4 MiB tmpfs: the node starts, packs in memory and says why, and leaves
#     no .pack.tmp file behind.
#  3. A stale .pack.tmp file (its process gone) is removed at start.
# And between them: the database left on the full disk reads back elsewhere, and a damaged one is
# moved aside and recreated.
# Mounting needs root (CI runs as root); without it this prints a SKIP line and exits 0.
#   test_storage_faults.sh PIO PIO_NODE
set -euo pipefail
pio="$1"; node_bin="$2"
source "$(dirname "${BASH_SOURCE[0]}")/node_support.sh"
mounts=()
cleanup_more() { for m in "${mounts[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done; }

# mount_tmpfs DIR SIZE
mount_tmpfs() {
  mkdir -p "$1"
  mount -t tmpfs -o "size=$2" tmpfs "$1" || return 1
  mounts+=("$1")
}
if ! mount_tmpfs "$work/probe" 1m 2>"$work/mount.err"; then
  echo "SKIP: test_storage_faults needs to mount tmpfs (run as root): $(cat "$work/mount.err")"
  exit 0
fi

# ask NAME I: one distinct prompt (400 words: about 75 KV blocks); fails unless answered. Before
# the fix, the second of these killed the node (RocksDB's assertion, exit 134).
ask() {
  local words=""
  for w in $(seq 1 400); do words+="w$((w * 13 + $2)) "; done
  timeout 120 "$pio" chat --node "127.0.0.1:$port" --prompt "Prompt $2: $words" --max-tokens 4 \
    >"$work/answer.txt" 2>"$work/answer.err" || fail "$1: prompt $2 not answered: $(cat "$work/answer.err")"
  [ -s "$work/answer.txt" ] || fail "$1: prompt $2: empty answer"
  kill -0 "$node_pid" 2>/dev/null || fail "$1: the node died at prompt $2"
}

"$pio" make-checkpoint --preset tiny --seed 5 --out "$work/tiny" 2>/dev/null

# 1. The cache on an 11 MiB tmpfs.
mount_tmpfs "$work/small" 11m
start_node full --cache-dir "$work/small/cache"
grep -q "entries recovered" "$work/full.err" || fail "the start line does not count the cache's entries: $(cat "$work/full.err")"
i=0
while ! grep -q "the disk tiers are off" "$work/full.err"; do
  i=$((i + 1))
  [ "$i" -le 200 ] || fail "the 11 MiB disk never filled in 200 prompts ($(df -h "$work/small" | tail -1))"
  ask full "$i"
done
echo "disk full after $i distinct prompts: $(df -h "$work/small" | tail -1)"
for j in $(seq 1 10); do ask full-after "$((i + j))"; done  # memory only: every request answered
[ "$(grep -c "the disk tiers are off" "$work/full.err")" -le 2 ] || fail "the disk state is said more than once or twice: $(cat "$work/full.err")"
rm "$work/small/cache/weights/"*.pack
for _ in $(seq 1 1200); do grep -q "the disk tiers are back" "$work/full.err" && break; sleep 0.1; done
grep -q "the disk tiers are back" "$work/full.err" || fail "the cache did not come back within 120 s of freeing space"
for j in $(seq 11 15); do ask recovered "$((i + j))"; done
kill -TERM "$node_pid"
wait "$node_pid" || fail "the node did not exit 0 on SIGTERM after a full disk ($?)"
# The database left on the full disk is intact: copied to a disk with room, a new node reads it.
cp -a "$work/small/cache" "$work/copy"
start_node restart --cache-dir "$work/copy"
grep -Eq "in $work/copy \([1-9][0-9]* entries recovered\)" "$work/restart.err" \
  || fail "the restarted node recovered no entries: $(grep configuration "$work/restart.err")"
kill -TERM "$node_pid"; wait "$node_pid" || true
# A damaged database is moved aside (the packed weights stay) and a new one made: still on disk.
echo "no-such-manifest" >"$work/copy/CURRENT"
start_node damaged --cache-dir "$work/copy"
grep -q "in $work/copy (0 entries recovered; a damaged database was moved to $work/copy.damaged-" "$work/damaged.err" \
  || fail "a damaged database was not recreated: $(grep configuration "$work/damaged.err")"
grep -q "weights auto (read .*\.pack into memory)" "$work/damaged.err" || fail "the packed weights did not stay: $(grep configuration "$work/damaged.err")"
ask damaged 1
kill -TERM "$node_pid"; wait "$node_pid" || true

# 2. The pack cache on a 4 MiB tmpfs: packed in memory, said why, nothing left behind.
mount_tmpfs "$work/tiny4" 4m
start_node pack4 --cache-dir "$work/tiny4/cache"
grep -q "packed in memory (cannot write .*No space left on device" "$work/pack4.err" \
  || fail "no 'packed in memory (why)' in the start line: $(grep configuration "$work/pack4.err")"
ask pack4 1
[ -z "$(find "$work/tiny4" -name '*.pack.tmp*')" ] || fail "a .pack.tmp file was left on the 4 MiB disk: $(find "$work/tiny4")"
kill -TERM "$node_pid"; wait "$node_pid" || true
start_node pack4-again --cache-dir "$work/tiny4/cache"  # every later start too
ask pack4-again 2
kill -TERM "$node_pid"; wait "$node_pid" || true

# 3. A stale temporary pack file (its process is gone) is removed at start.
mkdir -p "$work/stale/weights"
true & dead=$!; wait "$dead"
stale="$work/stale/weights/0123456789abcdef.pack.tmp$dead"
dd if=/dev/zero of="$stale" bs=1M count=1 status=none
start_node stale --cache-dir "$work/stale"
[ ! -e "$stale" ] || fail "the stale $(basename "$stale") file is still there"
kill -TERM "$node_pid"; wait "$node_pid" || true
echo "test_storage_faults: ok"
