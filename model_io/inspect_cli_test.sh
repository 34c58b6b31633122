#!/usr/bin/env bash
# The inspect command line: a valid file is reported with exit code 0; every failure (no
# file, a stray argument, an unknown flag, an empty --export_pytorch, a missing, foreign or
# corrupt file) is one line on stderr, nothing on stdout, and exit code 1.
set -u
inspect=$1
tmp=${TEST_TMPDIR:-$(mktemp -d)}
failures=0

# The smallest model file: header (magic, version 1, payload length 2, CRC-32) and a payload
# holding only format_version = 1.
header='MCMODEL\x1a\x01\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00'
printf "${header}"'\x61\xa8\x07\xfe\x08\x01' > "$tmp/empty.mcm"
printf "${header}"'\x00\x00\x00\x00\x08\x01' > "$tmp/bad_crc.mcm"
printf 'this is not a model file, only some text' > "$tmp/text.mcm"

fail() {
  echo "FAILED: $1"
  echo "stdout:"; cat "$tmp/out"
  echo "stderr:"; cat "$tmp/err"
  failures=$((failures + 1))
}

# expect_failure MESSAGE_PART ARGS...: exit code 1, one stderr line holding MESSAGE_PART.
expect_failure() {
  local part=$1
  shift
  "$inspect" "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [ "$rc" -ne 1 ]; then fail "inspect $* exited with $rc, not 1"; return; fi
  if [ "$(wc -l <"$tmp/err")" -ne 1 ]; then fail "inspect $*: stderr is not one line"; return; fi
  if ! grep -qF -- "$part" "$tmp/err"; then fail "inspect $*: stderr lacks '$part'"; return; fi
  if [ -s "$tmp/out" ]; then fail "inspect $*: printed on stdout"; fi
}

"$inspect" "$tmp/empty.mcm" >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ "$rc" -ne 0 ] || [ -s "$tmp/err" ] ||
   ! grep -qF "checksum: OK (CRC-32 of the 2 payload bytes matches the header)" "$tmp/out" ||
   ! grep -qF "by encoding: none" "$tmp/out" ||
   ! grep -qF "total: 0 tensors, 0 values, 0 bytes of tensor records, 26 bytes of file" "$tmp/out"; then
  fail "inspect of a valid empty model (exit code $rc)"
fi

expect_failure "inspect: no model file given (usage: inspect <model.mcm>"
expect_failure "inspect: unexpected argument \"second.mcm\"" "$tmp/empty.mcm" second.mcm
expect_failure "Unknown command line flag 'bits'" --bits=4 "$tmp/empty.mcm"
expect_failure "inspect: --export_pytorch needs a file name" --export_pytorch= "$tmp/empty.mcm"
expect_failure "inspect: --export_pytorch needs a file name" "$tmp/empty.mcm" -export_pytorch ""
expect_failure "inspect: $tmp/no_such.mcm: no such file" "$tmp/no_such.mcm"
expect_failure "not a model file (bad magic number)" "$tmp/text.mcm"
expect_failure "corrupt model file (CRC-32" "$tmp/bad_crc.mcm"
expect_failure "inspect: cannot write $tmp/no_such_dir/model.pt: directory" \
  --export_pytorch="$tmp/no_such_dir/model.pt" "$tmp/empty.mcm"

if [ "$failures" -ne 0 ]; then
  echo "$failures failures"
  exit 1
fi
echo "all passed"
