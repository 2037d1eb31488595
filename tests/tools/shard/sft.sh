# shard --mode sft renders chat, prompt/completion, HH and instruction records
# with a chat template and trains only on assistant tokens; --mode preference
# keeps (prompt, chosen, rejected) triples. Invalid records are dropped by line.
source "$(dirname "$0")/../lib.sh"

CHATML="$LMPIPE_SOURCE/tests/fixtures/tokenizer/qwen2-style.json"
PLAIN="$LMPIPE_SOURCE/tests/tools/shard/tokenizer.json"
cat >"$WORK/chat.jsonl" <<'JSON'
{"id":"c1","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"你好"},{"role":"assistant","content":"你好！"},{"role":"user","content":"the cat"},{"role":"assistant","content":"sat"}]}
{"id":"c2","prompt":"name a colour","completion":"red"}
{"id":"c3","chosen":"\n\nHuman: hi there\n\nAssistant: hello\n\nHuman: and <|im_end|> now?\n\nAssistant: done","rejected":"\n\nHuman: hi there\n\nAssistant: hello\n\nHuman: and <|im_end|> now?\n\nAssistant: no"}
{"id":"c4","instruction":"add","instances":[{"input":"1 2","output":"3"}]}
{"id":"bad1","messages":[{"role":"robot","content":"x"}]}
{"id":"bad2","messages":[{"role":"user","content":"only a question"}]}
not json
JSON

# ChatML: only the assistant contents and their <|im_end|> markers are trained.
expect_exit 0 "$(tool shard)" -t "$CHATML" --mode sft "$WORK/chat.jsonl" -o "$WORK/sft" \
    --set val-fraction=0
expect_grep 'chat\.jsonl:5: skipped record: .*role' "$WORK/err"
expect_grep 'chat\.jsonl:6: skipped record: no assistant turn' "$WORK/err"
expect_grep 'chat\.jsonl:7: skipped record: not a JSON object' "$WORK/err"
expect_grep '"invalid_record": 3' "$WORK/sft/stats.json"
expect_grep '"records_kept": 4' "$WORK/sft/stats.json"
expect_grep '"kind": "sft"' "$WORK/sft/manifest.json"
expect_exit 0 "$(tool shard)" --inspect "$WORK/sft/train-00000.lshard" --sample-tokens 1000
expect_grep '^kind: sft$' "$WORK/out"
expect_grep '^sample text: <\|im_start\|>system$' "$WORK/out"
expect_grep '^sample trained text: 你好！<\|im_end\|>$' "$WORK/out"
expect_grep '^sat<\|im_end\|>$' "$WORK/out"
grep -q 'be brief<|im_end|>|' "$WORK/out" && fail "system text was trained on"

# The plain template needs no special tokens but <|endoftext|>.
expect_exit 1 "$(tool shard)" -t "$PLAIN" --mode sft "$WORK/chat.jsonl" -o "$WORK/no-chatml"
expect_grep 'im_start\|>, which is not a token' "$WORK/err"
head -n 4 "$WORK/chat.jsonl" | tail -n 3 >"$WORK/three.jsonl"
expect_exit 0 "$(tool shard)" -t "$PLAIN" --mode sft --chat-template plain \
    "$WORK/three.jsonl" -o "$WORK/plain" --set val-fraction=0
expect_exit 0 "$(tool shard)" --inspect "$WORK/plain/train-00000.lshard" --sample-tokens 1000
expect_grep '^Human: name a colour$' "$WORK/out"
expect_grep '^sample trained text: red<\|endoftext\|>$' "$WORK/out"

# A template file; a user's "<|im_end|>" stays text, so the HH record keeps 2 turns.
cat >"$WORK/template.json" <<'JSON'
{"system": {"prefix": "S: ", "suffix": "\n"}, "user": {"prefix": "<|im_start|>U: ", "suffix": "\n"},
 "assistant": {"prefix": "A: ", "suffix": "<|im_end|>"}}
JSON
printf '%s\n' "$(sed -n 3p "$WORK/chat.jsonl")" >"$WORK/hh.jsonl"
expect_exit 0 "$(tool shard)" -t "$CHATML" --mode sft --chat-template "$WORK/template.json" \
    "$WORK/hh.jsonl" -o "$WORK/file-template" --set val-fraction=0
expect_exit 0 "$(tool shard)" --inspect "$WORK/file-template/train-00000.lshard" \
    --sample-tokens 1000
expect_grep '^loss-mask spans: 2$' "$WORK/out"
expect_grep '^sample trained text: hello<\|im_end\|>\|done<\|im_end\|>$' "$WORK/out"

# Preference pairs from HH transcripts and from prompt/chosen/rejected strings.
cat >"$WORK/pairs.jsonl" <<'JSON'
{"chosen":"\n\nHuman: 天气怎么样？\n\nAssistant: 晴天","rejected":"\n\nHuman: 天气怎么样？\n\nAssistant: 不知道"}
{"prompt":"2+2?","chosen":"4","rejected":"5"}
{"chosen":"\n\nHuman: a\n\nAssistant: b","rejected":"\n\nHuman: c\n\nAssistant: d"}
JSON
expect_exit 0 "$(tool shard)" -t "$CHATML" --mode preference "$WORK/pairs.jsonl" \
    -o "$WORK/pref" --set val-fraction=0
expect_grep 'pairs\.jsonl:3: skipped record: chosen and rejected differ' "$WORK/err"
# Two pairs: one in train and, so that val is not empty, the last one in val.
for split in train val; do
    expect_exit 0 "$(tool shard)" --inspect "$WORK/pref/$split-00000.lshard"
    expect_grep '^preference pairs: 1$' "$WORK/out"
    expect_grep '^documents: 3$' "$WORK/out"
    expect_grep '^kind: preference$' "$WORK/out"
done

expect_exit 1 "$(tool shard)" -t "$CHATML" --mode nonsense "$WORK/pairs.jsonl" -o "$WORK/x"
expect_grep 'unknown --mode nonsense' "$WORK/err"
