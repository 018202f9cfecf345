#!/bin/sh
# Install the tools the S3 benchmarks compare hubfs with: rclone and s3fs, from Debian.
# Run by bench/s3_anchors.py before it measures anything (needs root, as `make bench` has).
set -e
missing=""
command -v rclone >/dev/null 2>&1 || missing="$missing rclone"
command -v s3fs >/dev/null 2>&1 || missing="$missing s3fs"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "setup-anchors: need root to install:$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq $missing >/dev/null
