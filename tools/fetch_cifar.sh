#!/usr/bin/env bash
# Downloads the binary version of CIFAR-10 or CIFAR-100 from the authors' page
# (https://www.cs.toronto.edu/~kriz/cifar.html), checks the archive against its published
# MD5 sum and extracts it where LoadImageData looks for it.
# Usage: tools/fetch_cifar.sh cifar10|cifar100 [DIR]
#   DIR defaults to /usr/share/datasets/cifar-10 or /usr/share/datasets/cifar-100, the
#   data sets' default directories; pass any directory as LoadImageData's data_dir instead.
set -euo pipefail
source "$(dirname "$0")/fetch_common.sh"

case "${1:-}" in
  cifar10)
    archive=cifar-10-binary.tar.gz
    md5=c32a1d4ab5d03f1284b67883e8d87530
    dir=${2:-/usr/share/datasets/cifar-10}
    ;;
  cifar100)
    archive=cifar-100-binary.tar.gz
    md5=03b5dce01913d631647c71ecec9e9cb8
    dir=${2:-/usr/share/datasets/cifar-100}
    ;;
  *)
    echo "usage: $0 cifar10|cifar100 [DIR]" >&2
    exit 2
    ;;
esac

url="https://www.cs.toronto.edu/~kriz/$archive"
mkdir -p "$dir"
download="$dir/$archive.part"
trap 'rm -f "$download"' EXIT

fetch_checked "$url" "$download" "$md5"

tar -xzf "$download" -C "$dir"
echo "fetch_cifar: extracted $archive into $dir"
