#!/usr/bin/env python3
"""Encoding throughput of Hugging Face tokenizers and tiktoken on one thread.

Usage: peers.py TOKENIZER_DIR TEXT_FILE
TOKENIZER_DIR is a `bpe-train --tiktoken` output folder (tokenizer.json and
tokenizer.tiktoken); both peers load the same vocabulary. The text is cut
into documents as bench_encode.c cuts it. Prints MB/s per CPU-second for
each peer, checks on the first 2,000 documents that both give the same ids
(the unit tests tie lmpipe to tokenizers), and prints tiktoken's token
count for all documents, to compare with lmpipe's.
Needs `pip install tokenizers tiktoken` (benchmark peers only).
"""
import base64
import json
import os
import sys
import time

os.environ["RAYON_NUM_THREADS"] = "1"  # before tokenizers starts its thread pool
import tiktoken  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

DOCUMENT_BYTES = 16 * 1024


def documents(data):
    docs, start = [], 0
    while start < len(data):
        end = min(start + DOCUMENT_BYTES, len(data))
        while end < len(data) and data[end - 1] != 0x0A:
            end += 1
        docs.append(data[start:end].decode("utf-8", "replace"))
        start = end
    return docs


def cpu_rate(function, docs, size):
    start = time.process_time()
    function(docs)
    return size / 1e6 / (time.process_time() - start)


def main():
    folder, text_path = sys.argv[1:3]
    with open(text_path, "rb") as f:
        data = f.read()
    docs = documents(data)
    size = sum(len(d.encode()) for d in docs)
    config = json.load(open(os.path.join(folder, "tokenizer.json"), encoding="utf-8"))
    pre = config["pre_tokenizer"]
    if pre["type"] == "Sequence":
        pattern = pre["pretokenizers"][0]["pattern"]["Regex"]
    else:
        pattern = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
    ranks = {}
    with open(os.path.join(folder, "tokenizer.tiktoken"), "rb") as f:
        for line in f:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    encoding = tiktoken.Encoding("lmpipe", pat_str=pattern, mergeable_ranks=ranks,
                                 special_tokens={})
    hf = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))

    sample = docs[:2000]
    differ = sum(a != b.ids for a, b in zip(encoding.encode_ordinary_batch(sample, num_threads=1),
                                            hf.encode_batch(sample, add_special_tokens=False)))
    print(f"{len(docs)} documents, {size / 1e6:.1f} MB; tiktoken and tokenizers differ on "
          f"{differ} of {len(sample)} documents")
    tokens = sum(len(ids) for ids in encoding.encode_ordinary_batch(docs, num_threads=1))
    print(f"tiktoken: {tokens} tokens (compare with lmpipe's count)")
    rates = {
        "tiktoken encode_ordinary loop": cpu_rate(
            lambda d: [encoding.encode_ordinary(x) for x in d], docs, size),
        "tiktoken encode_ordinary_batch(num_threads=1)": cpu_rate(
            lambda d: encoding.encode_ordinary_batch(d, num_threads=1), docs, size),
        "tokenizers encode loop": cpu_rate(
            lambda d: [hf.encode(x, add_special_tokens=False) for x in d], docs, size),
        "tokenizers encode_batch_fast (1 thread)": cpu_rate(
            lambda d: hf.encode_batch_fast(d, add_special_tokens=False), docs, size),
    }
    for name, rate in rates.items():
        print(f"{name}: {rate:.2f} MB/s per CPU-second")


if __name__ == "__main__":
    main()
