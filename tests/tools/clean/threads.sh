# The output is the same for every --threads value: documents come out in
# input order and the stats are equal.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/docs.sh"

for i in $(seq 1 1500); do
    case $((i % 3)) in
        0) doc "d$i" "$good_english\\nNumber $i ends this page." ;;
        1) doc "d$i" "$good_chinese\\n第 $i 页。" ;;
        2) doc "d$i" "short page $i" ;;
    esac
done >"$WORK/in.jsonl"

for threads in 1 4; do
    expect_exit 0 "$(tool clean)" --config "$LMPIPE_SOURCE/configs/clean/gopher.yaml" \
        --set pii=all --threads "$threads" "$WORK/in.jsonl" -o "$WORK/out-$threads.jsonl" \
        --stats "$WORK/stats-$threads.json" --rejected "$WORK/rejected-$threads.jsonl"
done
cmp -s "$WORK/out-1.jsonl" "$WORK/out-4.jsonl" || fail "--threads 4 output differs from --threads 1"
cmp -s "$WORK/rejected-1.jsonl" "$WORK/rejected-4.jsonl" || fail "rejected files differ"
expect_stat "$WORK/stats-4.json" records_kept 1000
expect_stat "$WORK/stats-4.json" too_short_chars 500
first=$(head -1 "$WORK/out-4.jsonl" | grep -o '"id":"d[0-9]*"')
[ "$first" = '"id":"d1"' ] || fail "first kept document is $first, expected d1"
