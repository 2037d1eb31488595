# A full or unwritable output fails the stage with an error that names the
# path, and leaves no manifest and no file under a final name.
. "$(dirname "$0")/../lib.sh"
lmpipe=$(tool lmpipe)
[ -x "$(tool clean)" ] || skip "clean is not built"
cd "$WORK"
trap 'umount "$WORK/full" "$WORK/ro" 2>/dev/null; rm -rf "$WORK"' EXIT

# About 4 MB of documents that zstd cannot shrink much: random base64 text.
head -c 3000000 /dev/urandom | base64 -w 200 |
    awk '{ printf "{\"id\":\"%d\",\"text\":\"%s 随机 words\",\"source\":\"r\"}\n", NR, $0 }' \
    >docs.jsonl
write_pipeline() {
    cat >p.yaml <<YAML
run-dir: $1
stages:
  - {name: clean, program: clean, inputs: [docs.jsonl], settings: {min-words: 1}}
YAML
}

# A path under a regular file cannot become a folder.
touch plain-file
write_pipeline plain-file/run
expect_exit 1 "$lmpipe" run p.yaml
expect_grep 'failed to create folder plain-file/run: Not a directory' "$WORK/err"

mkdir full ro
if ! mount -t tmpfs -o size=256k tmpfs full 2>/dev/null ||
   ! mount -t tmpfs -o ro,size=64k tmpfs ro 2>/dev/null; then
    skip "cannot mount a small tmpfs here (needs root and CAP_SYS_ADMIN); the full-disk cases did not run"
fi

# A full file system: the error names the output file and the remedy.
write_pipeline full/run
expect_exit 1 "$lmpipe" run p.yaml
expect_grep 'full/run/clean/part-[0-9-]+\.jsonl\.zst: write failed: No space left on device; free space' "$WORK/err"
expect_grep 'stage clean failed: clean exited with status 1' "$WORK/err"
[ ! -e full/run/clean/manifest.json ] || fail "a failed stage wrote a manifest"
leftovers=$(find full/run/clean -maxdepth 1 -type f | head -n 3)
[ -z "$leftovers" ] || fail "files left in the failed output: $leftovers"
expect_exit 0 "$lmpipe" status full/run
expect_grep '^clean +failed ' "$WORK/out"

# A read-only file system.
write_pipeline ro/run
expect_exit 1 "$lmpipe" run p.yaml
expect_grep 'ro/run.*Read-only file system' "$WORK/err"

# Standalone, writing one file: the same message, and nothing under the name.
expect_exit 1 "$(tool clean)" docs.jsonl -o full/docs.jsonl --set min-words=1
expect_grep 'full/docs.jsonl: write failed: No space left on device' "$WORK/err"
[ ! -e full/docs.jsonl ] || fail "a failed write left full/docs.jsonl"
