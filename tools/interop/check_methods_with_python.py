"""Loads adapter folders written by PeftSharp into Python PEFT and compares PEFT's logits with ours.

    dotnet run --project tools/interop -c Release -- methods tests/PeftSharp.Tests/Golden /tmp/interop-methods
    python3 tools/interop/check_methods_with_python.py /tmp/interop-methods tests/PeftSharp.Tests/Golden

Each sub-folder of <folder-of-adapters> holds adapter_config.json, adapter_model.safetensors and
peftsharp_logits.safetensors (input_ids, attention_mask, logits as PeftSharp computed them for the caller's
positions). base_model_name_or_path in the config names a model under <golden-dir>/models. Exits 1 on any mismatch.
"""
import json, os, sys
import torch
import transformers as tf
from peft import PeftModel
from safetensors.torch import load_file

root, golden = sys.argv[1], sys.argv[2]
failed = False
for name in sorted(os.listdir(root)):
    d = os.path.join(root, name)
    if not os.path.exists(os.path.join(d, "adapter_config.json")):
        continue
    cfg = json.load(open(os.path.join(d, "adapter_config.json")))
    base = os.path.join(golden, "models", os.path.basename(cfg["base_model_name_or_path"].rstrip("/")))
    model = tf.AutoModelForCausalLM.from_pretrained(base, attn_implementation="eager").eval()
    try:
        peft_model = PeftModel.from_pretrained(model, d).eval()
        ours = load_file(os.path.join(d, "peftsharp_logits.safetensors"))
        with torch.no_grad():
            logits = peft_model(input_ids=ours["input_ids"], attention_mask=ours["attention_mask"]).logits.float()
        logits = logits[:, -ours["logits"].shape[1]:]  # prompt tuning returns the virtual positions too
        # Only real tokens: transformers leaves padded positions' outputs unspecified.
        real = ours["attention_mask"].bool()
        diff = (logits - ours["logits"])[real].abs().max().item()
        ok = diff < 1e-4
        print(f"{'ok' if ok else 'MISMATCH'} {name} ({cfg['peft_type']}): max |PEFT - PeftSharp| = {diff:.2e}", flush=True)
        failed |= not ok
    except Exception as e:
        print(f"FAILED {name} ({cfg.get('peft_type')}): {type(e).__name__}: {e}", flush=True)
        failed = True
sys.exit(1 if failed else 0)
