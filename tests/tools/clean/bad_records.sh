# clean keeps the valid documents, names each invalid line by file and line,
# and exits 0; a Chinese document passes the default length rules.
source "$(dirname "$0")/../lib.sh"

cat >"$WORK/in.jsonl" <<'JSON'
{"id":"en","text":"Debian is a free operating system, developed and maintained by volunteers around the world.","source":"t"}
[1, 2, 3]
{"id":"zh","text":"Debian 是一个自由的操作系统，由全世界的志愿者共同开发和维护。它使用 Linux 内核以及许多来自 GNU 项目的基本工具。","source":"t"}
{"id":"broken", "text":
{"id":"notext","source":"t"}
JSON

expect_exit 0 "$(tool clean)" "$WORK/in.jsonl" -o "$WORK/out.jsonl" --stats "$WORK/stats.json"
expect_grep 'in\.jsonl:2: ' "$WORK/err"
expect_grep 'in\.jsonl:4: ' "$WORK/err"
expect_grep 'in\.jsonl:5: ' "$WORK/err"
expect_grep '"id":"en"' "$WORK/out.jsonl"
expect_grep '"id":"zh"' "$WORK/out.jsonl"
expect_grep '志愿者' "$WORK/out.jsonl"
expect_grep '"invalid_record": 3' "$WORK/stats.json"
expect_grep '"records_kept": 2' "$WORK/stats.json"
[ "$(wc -l <"$WORK/out.jsonl")" -eq 2 ] || fail "expected 2 output documents"
