#!/usr/bin/env python3
"""The loss of an lmpipe checkpoint on a shard split, computed with transformers.

Reads the SPLIT-*.lshard files of SHARD_FOLDER in name order as one token
stream (header and frame index as in docs/formats.md; frames are unpacked
with the zstd program), cuts it as evaluate does into consecutive windows of
SEQ_LEN + 1 tokens that start every SEQ_LEN tokens, scores each window with
AutoModelForCausalLM in fp32 and prints the mean loss in nats per predicted
token and the number of predicted tokens, as "LOSS TOKENS".

Usage: hf_loss.py CHECKPOINT SHARD_FOLDER SPLIT SEQ_LEN
Exit status 77 when torch or transformers is not installed.
"""
import glob
import os
import struct
import subprocess
import sys

try:
    import torch
    from transformers import AutoModelForCausalLM
except ImportError as error:
    print(f"SKIP: {error}", file=sys.stderr)
    sys.exit(77)


def read_shard(path):
    """Returns the token ids of one shard file as a list."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"LMPSHARD":
        raise SystemExit(f"{path}: not a token shard (bad magic)")
    token_bytes, = struct.unpack_from("<I", data, 16)
    frame_count, index_offset = struct.unpack_from("<QQ", data, 48)
    width = {2: "<H", 4: "<I"}[token_bytes]
    tokens = []
    for i in range(frame_count):
        offset, size, count, _first, _checksum = struct.unpack_from(
            "<QIIQQ", data, index_offset + 32 * i)
        raw = subprocess.run(["zstd", "-d", "-c", "-q"], input=data[offset:offset + size],
                             stdout=subprocess.PIPE, check=True).stdout
        if len(raw) != count * token_bytes:
            raise SystemExit(f"{path}: frame {i} unpacks to {len(raw)} bytes, "
                             f"expected {count * token_bytes}")
        tokens.extend(v for (v,) in struct.iter_unpack(width, raw))
    return tokens


def main():
    if len(sys.argv) != 5:
        raise SystemExit(__doc__)
    checkpoint, folder, split, seq_len = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    tokens = []
    for path in sorted(glob.glob(os.path.join(folder, f"{split}-*.lshard"))):
        tokens.extend(read_shard(path))
    windows = (len(tokens) - 1) // seq_len
    if windows == 0:
        raise SystemExit(f"{folder}: the {split} split has fewer than {seq_len + 1} tokens")
    model = AutoModelForCausalLM.from_pretrained(checkpoint, dtype=torch.float32)
    model.eval()
    total = 0.0
    count = 0
    with torch.no_grad():
        for w in range(windows):
            window = torch.tensor(tokens[w * seq_len:w * seq_len + seq_len + 1])
            logits = model(input_ids=window[:-1].unsqueeze(0)).logits[0].double()
            logprobs = torch.log_softmax(logits, dim=-1)
            total -= logprobs.gather(1, window[1:].unsqueeze(1)).sum().item()
            count += seq_len
    print(f"{total / count:.8f} {count}")


main()
