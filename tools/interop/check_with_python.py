"""Loads folders written by PeftSharp (tools/interop) with transformers and PEFT and compares their outputs with ours.

    python3 tools/interop/check_with_python.py <golden tiny llama folder> <folder written by tools/interop>
Exits non-zero if any output differs by more than 1e-4.
"""
import os, sys
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM
from peft import PeftModel

base_dir, ours_dir = sys.argv[1], sys.argv[2]
worst = 0.0
for name in sorted(os.listdir(ours_dir)):
    d = os.path.join(ours_dir, name)
    ours = load_file(os.path.join(d, "ours.safetensors"))
    ids = ours["input_ids"]
    base = AutoModelForCausalLM.from_pretrained(base_dir, torch_dtype=torch.float32, attn_implementation="eager").eval()
    model = PeftModel.from_pretrained(base, os.path.join(d, "adapter")).eval()
    with torch.no_grad():
        adapted = model(input_ids=ids).logits.float()
    merged_model = AutoModelForCausalLM.from_pretrained(os.path.join(d, "merged"), torch_dtype=torch.float32, attn_implementation="eager").eval()
    with torch.no_grad():
        merged = merged_model(input_ids=ids).logits.float()
    d1 = (adapted - ours["logits"]).abs().max().item()
    d2 = (merged - ours["merged_logits"]).abs().max().item()
    worst = max(worst, d1, d2)
    print(f"{name}: PEFT on our adapter folder vs ours {d1:.2e}; transformers on our merged folder vs ours {d2:.2e}", flush=True)
print("worst", worst)
sys.exit(0 if worst < 1e-4 else 1)
