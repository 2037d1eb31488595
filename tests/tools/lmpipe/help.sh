# lmpipe --help lists the stage programs; lmpipe run --help lists run's options.
. "$(dirname "$0")/../lib.sh"
lmpipe=$(tool lmpipe)

expect_exit 0 "$lmpipe" --help
expect_grep '^Usage: lmpipe run PIPELINE.yaml' "$WORK/out"
for program in crawl-ingest clean dedup bpe-train shard train generate; do
    expect_grep "^  $program " "$WORK/out"
done

expect_exit 0 "$lmpipe" run --help
for option in --run-dir --from --only --force --dry-run; do
    expect_grep "$option" "$WORK/out"
done

expect_exit 0 "$lmpipe" --version
expect_grep '^lmpipe [0-9]+\.[0-9]+' "$WORK/out"

# Usage errors: no command, an unknown command, run without a pipeline file.
expect_exit 2 "$lmpipe"
expect_exit 2 "$lmpipe" no-such-program
expect_grep 'unknown command "no-such-program"' "$WORK/err"
expect_exit 2 "$lmpipe" run
expect_grep 'missing the pipeline file' "$WORK/err"
expect_exit 2 "$lmpipe" run a.yaml --from x --only y
expect_grep 'exclude each other' "$WORK/err"
