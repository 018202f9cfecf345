#!/usr/bin/env bash
# Cold `cat items.jl` of the 1,000,000-item bench job: an older revision of hubfs against
# this working tree, interleaved, one emulator (bench data) pinned to CPU 0, the mounts and
# `cat` to CPU 1, the same venv for both (PYTHONPATH picks the tree). Both outputs' sha256
# are printed: they must agree.
#   bench/compare_revisions.sh OLD_REV [ROUNDS]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
old_rev=${1:?usage: bench/compare_revisions.sh OLD_REV [ROUNDS]}
rounds=${2:-3}
py=$here/.venv/bin/python
work=$(mktemp -d)
git -C "$here" worktree add -q --detach "$work/old" "$old_rev"
trap 'kill $emu 2>/dev/null; git -C "$here" worktree remove --force "$work/old"' EXIT
cd "$here"
taskset -c 0 "$py" -m hubfs emulate scrapinghub --data bench --port 0 --toml-file "$work/r.toml" \
    >/dev/null 2>"$work/emu.err" &
emu=$!
for _ in $(seq 100); do [ -s "$work/r.toml" ] && break; sleep 0.2; done
sed 's/^\[remotes\.[a-z_-]*\]/[remotes.zyte]/' "$work/r.toml" > "$work/cfg.toml"
chmod 600 "$work/cfg.toml"
for round in $(seq "$rounds"); do
    for tree in "$work/old" "$here"; do
        name=$([ "$tree" = "$here" ] && echo new || echo old)
        mnt=$work/m-$round-$name
        mkdir -p "$mnt"
        (cd "$tree" && PYTHONPATH=$tree taskset -c 1 "$py" -m hubfs mount --config "$work/cfg.toml" \
            --cache-dir "$work/c-$round-$name" "$mnt" >/dev/null)
        file=$(ls -d "$mnt"/zyte/900/spiders/*/1 | head -1)/items.jl
        start=$(date +%s.%N)
        sum=$(taskset -c 1 cat "$file" | sha256sum | cut -c1-16)
        end=$(date +%s.%N)
        echo "round $round $name: $(echo "$end - $start" | bc) s sha256 $sum"
        (cd "$tree" && PYTHONPATH=$tree "$py" -m hubfs umount "$mnt" >/dev/null)
    done
done
