#!/usr/bin/env python3
"""Greedy decoding with Hugging Face transformers from an lmpipe checkpoint.

Loads CHECKPOINT with AutoConfig and AutoModelForCausalLM (GPT2LMHeadModel or
LlamaForCausalLM, chosen by config.json) and its tokenizer.json with the
tokenizers package, and decodes MAX_TOKENS tokens greedily without a KV cache.
It writes the continuation of the N-th PROMPT to OUTPUT_PREFIX.N as generate
prints it, so a test can compare it with `generate --temperature 0`, which
uses its KV cache.

Usage: hf_greedy.py CHECKPOINT MAX_TOKENS OUTPUT_PREFIX PROMPT...
Exit status 77 when torch, transformers or tokenizers is not installed.
"""
import json
import sys

try:
    import torch
    from tokenizers import Tokenizer
    from transformers import AutoConfig, AutoModelForCausalLM
except ImportError as error:
    print(f"SKIP: {error}", file=sys.stderr)
    sys.exit(77)


def token_bytes(tokenizer, token_id):
    """Returns the bytes of one byte-level BPE token."""
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
                 + list(range(ord("®"), ord("ÿ") + 1)))
    codes = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            codes.append(256 + extra)
            extra += 1
    decoder = {chr(c): b for b, c in zip(printable, codes)}
    return bytes(decoder[ch] for ch in tokenizer.id_to_token(token_id))


def continue_greedily(model, tokenizer, prompt, count, context, eos):
    """Returns the bytes of the greedy continuation of prompt."""
    ids = tokenizer.encode(prompt, add_special_tokens=False).ids
    out = bytearray()
    with torch.no_grad():
        for _ in range(count):
            if len(ids) >= context:
                break
            logits = model(torch.tensor([ids]), use_cache=False).logits[0, -1]
            token = int(torch.argmax(logits[:tokenizer.get_vocab_size()]))
            if token == eos:
                break
            ids.append(token)
            out += token_bytes(tokenizer, token)
    return bytes(out)


def main():
    folder, count, prefix, prompts = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
    config = AutoConfig.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    model.eval()
    tokenizer = Tokenizer.from_file(f"{folder}/tokenizer.json")
    with open(f"{folder}/config.json", encoding="utf-8") as file:
        eos = json.load(file).get("eos_token_id")
    for index, prompt in enumerate(prompts):
        raw = continue_greedily(model, tokenizer, prompt, count, config.max_position_embeddings,
                                eos)
        # generate prints valid UTF-8, each invalid byte sequence as U+FFFD (as
        # Python's "replace" error handler does), and a final newline.
        with open(f"{prefix}.{index}", "wb") as file:
            file.write(raw.decode("utf-8", errors="replace").encode("utf-8") + b"\n")


if __name__ == "__main__":
    main()
