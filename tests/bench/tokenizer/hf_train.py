#!/usr/bin/env python3
"""Train a byte-level BPE tokenizer with Hugging Face tokenizers' BpeTrainer on
the documents of a JSON Lines file, with the settings bpe-train uses:
GPT-2's ByteLevel pre-tokenizer (or a Split regex), min_frequency 2,
<|endoftext|> as the special token. Each document is one training string, as
in bpe-train.

Usage: hf_train.py DOCS_JSONL VOCAB_SIZE OUTPUT_JSON [REGEX]
"""
import json
import sys
import time

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers


def texts(path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            yield json.loads(line)["text"]


def main():
    path, vocab_size, output = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    tokenizer = Tokenizer(models.BPE())
    if len(sys.argv) > 4:
        tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(sys.argv[4]), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    else:
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2,
                                  special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    start = time.time()
    tokenizer.train_from_iterator(texts(path), trainer)
    print(f"trained {tokenizer.get_vocab_size()} tokens in {time.time() - start:.1f} s")
    tokenizer.save(output)


if __name__ == "__main__":
    main()
