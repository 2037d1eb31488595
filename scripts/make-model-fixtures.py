#!/usr/bin/env python3
"""Reference fixtures for the model parity tests, from PyTorch and transformers.

For each family (GPT-2 and Llama) this builds a small random model with a fixed
seed and writes, under tests/fixtures/model/<family>/:
  config.json, model.safetensors   the model as transformers saves it
  reference.safetensors            inputs and targets (B, T) int32, logits
                                   (B, T, V), loss (1), grad.<name> for every
                                   parameter (Hugging Face names and layouts),
                                   adamw_losses (10): the loss before each of
                                   10 AdamW steps on the same batch
The C test tests/unit/test_model_parity.c reads them.

With --check-export BUILD it also runs BUILD/tests/unit/test_model_parity with
LMPIPE_EXPORT_DIR set, so that lmpipe writes its own checkpoints after the 10
steps plus the logits it computes; transformers then loads those checkpoints
and must give the same logits.

    pip install torch transformers safetensors
    python3 scripts/make-model-fixtures.py [--check-export /tmp/build]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load_file, save_file
from transformers import (AutoModelForCausalLM, GPT2Config, GPT2LMHeadModel, LlamaConfig,
                          LlamaForCausalLM)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "model")
B, T, V = 2, 8, 96
STEPS = 10
# AdamW settings the C test uses too.
LR, BETAS, EPS, WD = 1e-2, (0.9, 0.95), 1e-8, 0.1


def gpt2_model():
    config = GPT2Config(vocab_size=V, n_positions=16, n_embd=16, n_layer=2, n_head=2,
                        activation_function="gelu_new", resid_pdrop=0.0, embd_pdrop=0.0,
                        attn_pdrop=0.0, layer_norm_epsilon=1e-5, initializer_range=0.2,
                        tie_word_embeddings=True, bos_token_id=0, eos_token_id=0)
    return GPT2LMHeadModel(config)


def llama_model():
    # Llama-3 RoPE scaling with a short original context, so that the
    # four frequencies of the 8-wide heads are smoothed or divided.
    config = LlamaConfig(vocab_size=V, hidden_size=16, intermediate_size=48,
                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                         max_position_embeddings=16, rms_norm_eps=1e-5, rope_theta=10000.0,
                         rope_scaling={"rope_type": "llama3", "factor": 8.0,
                                       "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                       "original_max_position_embeddings": 8},
                         tie_word_embeddings=False, attention_bias=False, mlp_bias=False,
                         initializer_range=0.2, hidden_act="silu", bos_token_id=0,
                         eos_token_id=0)
    return LlamaForCausalLM(config)


def loss_of(model, inputs, targets):
    logits = model(input_ids=inputs).logits
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), targets.reshape(-1))
    return logits, loss


def make(family, build):
    torch.manual_seed(1234)
    model = build().float()
    model.config._attn_implementation = "eager"
    # Norm weights start at 1 and biases at 0: perturb them so their
    # gradients are generic.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:
                p.add_(0.1 * torch.randn_like(p))
    generator = torch.Generator().manual_seed(99)
    inputs = torch.randint(0, V, (B, T), generator=generator)
    targets = torch.randint(0, V, (B, T), generator=generator)

    folder = os.path.join(OUT, family)
    os.makedirs(folder, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    for extra in ("generation_config.json",):
        path = os.path.join(folder, extra)
        if os.path.exists(path):
            os.remove(path)

    logits, loss = loss_of(model, inputs, targets)
    loss.backward()
    tensors = {
        "inputs": inputs.to(torch.int32).contiguous(),
        "targets": targets.to(torch.int32).contiguous(),
        "logits": logits.detach().contiguous(),
        "loss": loss.detach().reshape(1),
    }
    for name, p in model.named_parameters():
        tensors["grad." + name] = p.grad.detach().clone().contiguous()

    # 10 AdamW steps on the same batch: decay on matrices only, no clipping.
    model.zero_grad()
    decay = [p for p in model.parameters() if p.dim() >= 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WD},
                             {"params": other, "weight_decay": 0.0}],
                            lr=LR, betas=BETAS, eps=EPS)
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        _, step_loss = loss_of(model, inputs, targets)
        losses.append(step_loss.item())
        step_loss.backward()
        opt.step()
    tensors["adamw_losses"] = torch.tensor(losses, dtype=torch.float32)
    save_file(tensors, os.path.join(folder, "reference.safetensors"))
    print(f"{family}: loss {loss.item():.6f}, after {STEPS} AdamW steps {losses[-1]:.6f}")


def check_export(build):
    """Runs the C parity test with LMPIPE_EXPORT_DIR and loads its checkpoints."""
    with tempfile.TemporaryDirectory() as export:
        env = dict(os.environ, LMPIPE_EXPORT_DIR=export)
        subprocess.run([os.path.join(build, "tests", "unit", "test_model_parity")], env=env,
                       check=True)
        worst = 0.0
        for family in ("gpt2", "llama"):
            folder = os.path.join(export, family)
            model = AutoModelForCausalLM.from_pretrained(folder, attn_implementation="eager")
            model = model.float().eval()
            ref = load_file(os.path.join(folder, "lmpipe_logits.safetensors"))
            with torch.no_grad():
                logits = model(input_ids=ref["inputs"].long()).logits
            diff = (logits - ref["logits"]).abs().max().item()
            print(f"{family}: transformers logits of lmpipe's checkpoint differ by at most "
                  f"{diff:.2e}")
            worst = max(worst, diff)
        if worst > 1e-4:
            sys.exit(f"exported checkpoints disagree with transformers ({worst:.2e} > 1e-4)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check-export", metavar="BUILD",
                        help="meson build folder holding tests/unit/test_model_parity")
    args = parser.parse_args()
    torch.set_num_threads(1)
    make("gpt2", gpt2_model)
    make("llama", llama_model)
    if args.check_export:
        check_export(args.check_export)


if __name__ == "__main__":
    main()
