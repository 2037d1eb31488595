# lmpipe inspect FILE prints what shard --inspect FILE prints: the header,
# the counts, a decoded sample (Chinese included) and the checksum result.
# A shard with a damaged frame fails with the frame number and its byte
# offset, and a missing file name is a usage error.
. "$(dirname "$0")/../lib.sh"
lmpipe=$(tool lmpipe)
[ -x "$lmpipe" ] || skip "lmpipe is not built"
TOKENIZER="$LMPIPE_SOURCE/tests/tools/shard/tokenizer.json"
cd "$WORK"

awk 'BEGIN { for (i = 1; i <= 200; i++)
    printf "{\"id\":\"d%d\",\"text\":\"自由软件 free software %d, again and again\",\"source\":\"s\"}\n", i, i
}' >docs.jsonl
expect_exit 0 "$(tool shard)" -t "$TOKENIZER" docs.jsonl -o shards --frame-tokens 256 \
    --set val-fraction=0
file=shards/train-00000.lshard

expect_exit 0 "$lmpipe" inspect "$file"
cp out lmpipe.out
expect_grep '^format version: 2$' lmpipe.out
# One of the 200 documents goes to val even with --val-fraction 0.
expect_grep '^documents: 199$' lmpipe.out
expect_grep '^tokens: [0-9]+$' lmpipe.out
expect_grep '^frames: [0-9]+ of 256 tokens$' lmpipe.out
expect_grep '^checksums: ok \([0-9]+ frames\)$' lmpipe.out
expect_grep '^sample text: 自由软件 free software 1, again and again$' lmpipe.out
expect_exit 0 "$(tool shard)" --inspect "$file"
cmp -s out lmpipe.out || fail "lmpipe inspect and shard --inspect print different output"

# Options may come before the file, as with shard.
expect_exit 0 "$lmpipe" inspect -t "$TOKENIZER" --sample-tokens 3 "$file"
expect_grep '^sample: first 3 tokens of document 0:' out

# Damage frame 1: its offset is the first field of the second 32-byte entry
# of the index, whose position inspect prints.
index_at=$(sed -n 's/^index: [0-9]* bytes at byte \([0-9]*\)$/\1/p' lmpipe.out)
[ -n "$index_at" ] || fail "inspect printed no index offset"
frame_at=$(python3 -c '
import struct, sys
with open(sys.argv[1], "rb") as f:
    f.seek(int(sys.argv[2]) + 32)
    print(struct.unpack("<Q", f.read(8))[0])' "$file" "$index_at")
cp "$file" damaged.lshard
printf '\125\252\125\252' | dd of=damaged.lshard bs=1 seek=$((frame_at + 12)) conv=notrunc 2>/dev/null
expect_exit 1 "$lmpipe" inspect damaged.lshard -t "$TOKENIZER"
expect_grep '^checksums: FAILED$' out
expect_grep "damaged\.lshard: .*frame 1 at byte $frame_at" err

expect_exit 1 "$lmpipe" inspect missing.lshard
expect_grep 'missing\.lshard' err
expect_exit 2 "$lmpipe" inspect
expect_grep 'missing the shard file' err
