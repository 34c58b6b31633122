#!/usr/bin/env bash
# Downloads the word-level WikiText-2 or WikiText-103 corpus (Merity et al. 2016), checks the
# archive against its published MD5 sum and puts wiki.{train,valid,test}.tokens where the
# text-corpus reader looks for them (data/text_corpus.h, CorpusLayout::kWikiText).
# Usage: tools/fetch_wikitext.sh wikitext2|wikitext103 [DIR]
#   DIR defaults to /usr/share/datasets/wikitext-2 or /usr/share/datasets/wikitext-103, the
#   data sets' default directories; pass any directory as --data_dir instead.
set -euo pipefail
source "$(dirname "$0")/fetch_common.sh"

case "${1:-}" in
  wikitext2)
    archive=wikitext-2-v1.zip
    md5=542ccefacc6c27f945fb54453812b3cd
    inner=wikitext-2
    dir=${2:-/usr/share/datasets/wikitext-2}
    ;;
  wikitext103)
    archive=wikitext-103-v1.zip
    md5=9ddaacaf6af0710eda8c456decff7832
    inner=wikitext-103
    dir=${2:-/usr/share/datasets/wikitext-103}
    ;;
  *)
    echo "usage: $0 wikitext2|wikitext103 [DIR]" >&2
    exit 2
    ;;
esac

url="https://s3.amazonaws.com/research.metamind.io/wikitext/$archive"
mkdir -p "$dir"
work=$(mktemp -d "$dir/.fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT

fetch_checked "$url" "$work/$archive" "$md5"

python3 -m zipfile -e "$work/$archive" "$work"
for split in train valid test; do
  mv "$work/$inner/wiki.$split.tokens" "$dir/wiki.$split.tokens"
done
echo "fetch_wikitext: wrote $dir/wiki.{train,valid,test}.tokens"
