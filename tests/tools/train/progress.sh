# Progress display: on a terminal rank 0 redraws one line with \r (step/total,
# loss, tokens/s, ETA). On a pipe or file it writes one plain log line per
# step, with no \r. script(1) gives the program a terminal.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/common.sh"

command -v script >/dev/null || skip "script (util-linux) is needed for a terminal"
make_shards "$WORK/shards"

# Not a terminal: 20 log lines, one per step, each with the ETA, and no \r.
expect_exit 0 train_tiny "$WORK/shards" "$WORK/plain"
[ "$(grep -Ec 'info: step [0-9]+/20 \| loss [0-9.]+ \| .* tok/s \| MFU .* \| ETA [0-9hms]+$' "$WORK/err")" -eq 20 ] \
    || fail "expected 20 step lines with an ETA on a pipe"
grep -q $'\r' "$WORK/err" && fail "a \\r reached stderr that is not a terminal"

# A terminal: the step lines give way to one line redrawn with \r, which ends
# with a newline before the next log message.
printf -v command '%q ' "$(tool train)" "$WORK/shards" --model-config "$TINY_CONFIG" \
    -o "$WORK/tty" "${TRAIN_SETTINGS[@]}"
script -q -e -c "$command" "$WORK/tty.log" >/dev/null </dev/null \
    || fail "train on a terminal failed: $(tail -c 2000 "$WORK/tty.log")"
redraws=$(grep -ao $'\rstep [0-9]*/20 | loss [0-9.]* | [0-9]* tok/s | ETA [0-9hms]*' "$WORK/tty.log" | wc -l)
echo "progress redraws on the terminal: $redraws"
[ "$redraws" -eq 20 ] || fail "expected 20 redraws of the progress line, got $redraws"
grep -aq 'info: step [0-9]*/20 |' "$WORK/tty.log" && fail "plain step lines reached the terminal"
grep -aq $'\rstep 20/20 | loss [0-9.]* | [0-9]* tok/s | ETA 0s\033\[K\r*$' "$WORK/tty.log" \
    || fail "the last redraw should show step 20/20 with ETA 0s and end its line"
grep -aq $'ETA [0-9hms]*\033\[K\r*$' "$WORK/tty.log" || fail "no progress line was ended"
expect_grep 'step 10 \| val loss' "$WORK/tty.log"
# The two runs trained the same model; only the display differs.
cmp -s "$WORK/plain/final/model.safetensors" "$WORK/tty/final/model.safetensors" \
    || fail "the run on a terminal trained other weights"

# -q on a terminal: no progress line.
script -q -e -c "$command -q --force" "$WORK/quiet.log" >/dev/null </dev/null \
    || fail "train -q on a terminal failed"
grep -aq 'step [0-9]*/20' "$WORK/quiet.log" && fail "-q still drew the progress line"
true
