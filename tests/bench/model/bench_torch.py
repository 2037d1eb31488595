#!/usr/bin/env python3
"""GPT-2 124M training steps in PyTorch on CPU, the peer of lmpipe's train.

Same model (12 x 768, 12 heads, 1024 positions, vocabulary 50257, which
transformers does not pad while lmpipe pads it to 50304), same batch (4 x 64
random tokens), AdamW, fp32. Prints one JSON line: the mean ms per step after
a warmup step, the mean CPU milliseconds per step (all threads, from
time.process_time, so that a loaded machine can be compared fairly), and the
peak resident memory of the process.
"""
import argparse
import json
import resource
import time

import torch
from transformers import GPT2Config, GPT2LMHeadModel


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = GPT2Config(n_layer=12, n_head=12, n_embd=768, n_positions=1024, vocab_size=50257,
                        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    model = GPT2LMHeadModel(config)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=6e-4, betas=(0.9, 0.95), weight_decay=0.1)
    inputs = torch.randint(0, 50257, (4, 64))
    times, cpu_times = [], []
    for step in range(args.steps + 1):
        start = time.perf_counter()
        cpu_start = time.process_time()
        opt.zero_grad(set_to_none=True)
        logits = model(input_ids=inputs).logits
        loss = torch.nn.functional.cross_entropy(logits.view(-1, 50257), inputs.view(-1))
        loss.backward()
        opt.step()
        if step > 0:
            times.append(time.perf_counter() - start)
            cpu_times.append(time.process_time() - cpu_start)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"peer": "pytorch", "torch": torch.__version__, "threads": args.threads,
                      "ms_per_step": 1000 * sum(times) / len(times),
                      "cpu_ms_per_step": 1000 * sum(cpu_times) / len(cpu_times),
                      "peak_mib": peak_mib}))


if __name__ == "__main__":
    main()
