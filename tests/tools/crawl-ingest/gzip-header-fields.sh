# Gzip members whose headers carry FEXTRA (wget's "sl" field), FNAME, FCOMMENT
# and FHCRC are read like plain members, in per-record and whole-file layouts.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/warc-builder.sh"
command -v python3 >/dev/null || skip "python3 not found; it writes the gzip headers"

for i in 1 2 3; do
    http_page "page-$i" "Text of page $i." >"$WORK/record-$i.warc"
done
python3 - "$WORK" <<'PY'
import struct, sys, zlib

def member(data):
    flags = 0x02 | 0x04 | 0x08 | 0x10  # FHCRC FEXTRA FNAME FCOMMENT
    head = b"\x1f\x8b\x08" + bytes([flags]) + struct.pack("<I", 0) + b"\x00\x03"
    extra = b"sl" + struct.pack("<H", 8) + b"\x01" * 8
    head += struct.pack("<H", len(extra)) + extra + b"record.warc\x00" + b"a comment\x00"
    head += struct.pack("<H", zlib.crc32(head) & 0xffff)
    deflate = zlib.compressobj(wbits=-15)
    body = deflate.compress(data) + deflate.flush()
    return head + body + struct.pack("<II", zlib.crc32(data), len(data))

work = sys.argv[1]
records = [open(f"{work}/record-{i}.warc", "rb").read() for i in (1, 2, 3)]
with open(f"{work}/per-record.warc.gz", "wb") as out:
    for data in records:
        out.write(member(data))
with open(f"{work}/whole-file.warc.gz", "wb") as out:
    out.write(member(b"".join(records)))
PY

for layout in per-record whole-file; do
    ingest "$WORK/$layout.warc.gz"
    expect_count 3
    expect_grep '"text":"Text of page 3."' "$WORK/out.jsonl"
    if grep -q damaged_files "$WORK/stats.json"; then fail "$layout read as damaged"; fi
done
expect_grep '"gzip_members": 1' "$WORK/stats.json"
