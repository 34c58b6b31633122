# Sourced by the tools/fetch_*.sh scripts.
# fetch_checked URL FILE MD5: downloads URL to FILE with curl (or wget) and checks its MD5
# sum; on a mismatch it deletes FILE, says so on standard error and returns 1.
fetch_checked() {
  local url=$1 file=$2 md5=$3 actual
  echo "$(basename "$0"): downloading $url"
  if command -v curl >/dev/null 2>&1; then
    curl --fail --location --output "$file" "$url"
  else
    wget --output-document="$file" "$url"
  fi
  actual=$(md5sum "$file" | cut -d' ' -f1)
  if [ "$actual" != "$md5" ]; then
    echo "$(basename "$0"): $(basename "$file") has MD5 $actual, expected $md5; not using it" >&2
    rm -f "$file"
    return 1
  fi
}
