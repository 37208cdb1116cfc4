"""Golden files for the PEFT methods beyond LoRA (AdaLoRA, IA3, prompt tuning, prefix tuning), from real PEFT.

Run from the repository root on a machine with torch, transformers and peft:
    python3 tools/golden/make_golden_methods.py tests/PeftSharp.Tests/Golden
It reads the tiny random checkpoints in <golden>/models (written by make_golden.py) and writes <golden>/methods/*:
- adalora_trace: an AdaLoRA run of 8 plain-SGD steps (loss includes the orthogonal regulariser, the rank allocator
  runs after every step): the adapter's starting tensors, the batch, per-step loss/budget/rank_pattern (trace.json),
  the final tensors, and the saved adapter folder with its adapted and merged logits.
- ia3: IA3 on k/v (output scaling) and down_proj (input scaling), random vectors; adapted and merged logits.
- prompt: prompt tuning, 5 virtual tokens; logits over a right-padded batch (virtual positions included) and greedy.
- prefix_llama / prefix_qwen2: prefix tuning (MHA and GQA+bias bases), flat prefix; logits and greedy.
- prefix_projection: prefix tuning with the reparameterisation MLP, saved folded (inference form) by PEFT.
"""
import copy, json, os, sys
import torch
from safetensors.torch import save_file, load_file

GOLDEN = sys.argv[1]
OUT = os.path.join(GOLDEN, "methods")
PROMPTS = [[1, 17, 45, 99, 3, 64, 120], [1, 88, 5, 41]]

import transformers as tf
from peft import (AdaLoraConfig, IA3Config, PromptTuningConfig, PrefixTuningConfig, get_peft_model, PeftModel,
                  set_peft_model_state_dict)


def base(kind):
    return tf.AutoModelForCausalLM.from_pretrained(os.path.join(GOLDEN, "models", kind), attn_implementation="eager").eval()


def padded_batch():
    ids = torch.zeros(2, 7, dtype=torch.long)
    mask = torch.zeros(2, 7, dtype=torch.long)
    for i, p in enumerate(PROMPTS):
        ids[i, :len(p)] = torch.tensor(p)
        mask[i, :len(p)] = 1
    return ids, mask


def folder(name):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    return d


def greedy(m):
    with torch.no_grad():
        return m.generate(input_ids=torch.tensor([PROMPTS[0]]), attention_mask=torch.ones(1, 7, dtype=torch.long),
                          max_new_tokens=12, do_sample=False, eos_token_id=None, pad_token_id=0)[0].contiguous()


def adalora_trace():
    torch.manual_seed(11)
    cfg = AdaLoraConfig(init_r=4, target_r=2, tinit=1, tfinal=2, deltaT=1, total_step=8, beta1=0.85, beta2=0.85,
                        orth_reg_weight=0.5, lora_alpha=8, lora_dropout=0.0, task_type="CAUSAL_LM",
                        target_modules=["q_proj", "v_proj", "up_proj"])
    m = get_peft_model(copy.deepcopy(base("llama")), cfg)
    with torch.no_grad():  # PEFT starts E at zero, which leaves A and B without gradient on step 1
        for n, p in m.named_parameters():
            if "lora_E" in n:
                p.normal_(std=0.5)
    d = folder("adalora_trace")
    start = {n: p.detach().clone().contiguous() for n, p in m.named_parameters() if "lora_" in n}
    start.update({n: b.detach().clone() for n, b in m.named_parameters() if "ranknum" in n})
    save_file(start, os.path.join(d, "start.safetensors"))
    ids = torch.randint(3, 128, (2, 9), generator=torch.Generator().manual_seed(5))
    lr = 0.05
    opt = torch.optim.SGD([p for p in m.parameters() if p.requires_grad], lr=lr)
    m.train()
    steps = []
    for step in range(cfg.total_step):
        out = m(input_ids=ids, labels=ids)
        out.loss.backward()
        opt.step()
        budget = m.base_model.rankallocator.budget_schedule(step)[0]
        m.base_model.update_and_allocate(step)
        opt.zero_grad()
        rp = m.peft_config["default"].rank_pattern
        steps.append({"step": step, "loss": out.loss.item(), "budget": budget,
                      "rank_pattern": {k: [bool(x) for x in (v.tolist() if torch.is_tensor(v) else v)] for k, v in (rp or {}).items()}})
    with open(os.path.join(d, "trace.json"), "w") as f:
        json.dump({"lr": lr, "steps": steps, "init_bgt": m.base_model.rankallocator.init_bgt,
                   "target_bgt": m.base_model.rankallocator.target_bgt}, f, indent=1)
    save_file({n: p.detach().clone().contiguous() for n, p in m.named_parameters() if "lora_" in n},
              os.path.join(d, "final.safetensors"))
    save_file({"input_ids": ids}, os.path.join(d, "batch.safetensors"))
    m.eval()
    saved = folder("adalora_trace/adapter")
    m.save_pretrained(saved)
    x, mask = padded_batch()
    loaded = PeftModel.from_pretrained(copy.deepcopy(base("llama")), saved).eval()
    with torch.no_grad():
        adapted = loaded(input_ids=x, attention_mask=mask).logits.float()
        merged = loaded.merge_and_unload()(input_ids=x, attention_mask=mask).logits.float()
    save_file({"input_ids": x, "attention_mask": mask, "logits": adapted.contiguous(), "merged_logits": merged.contiguous()},
              os.path.join(saved, "golden_logits.safetensors"))


def ia3():
    torch.manual_seed(12)
    cfg = IA3Config(task_type="CAUSAL_LM", target_modules=["k_proj", "v_proj", "down_proj"], feedforward_modules=["down_proj"])
    m = get_peft_model(copy.deepcopy(base("qwen2")), cfg)  # qwen2: k/v carry a bias, which IA3 scales too when merging
    with torch.no_grad():
        for n, p in m.named_parameters():
            if "ia3_l" in n:
                p.add_(torch.randn_like(p) * 0.3)
    d = folder("ia3")
    m.save_pretrained(d)
    m.eval()
    x, mask = padded_batch()
    with torch.no_grad():
        adapted = m(input_ids=x, attention_mask=mask).logits.float()
        merged = m.merge_and_unload()(input_ids=x, attention_mask=mask).logits.float()
    save_file({"input_ids": x, "attention_mask": mask, "logits": adapted.contiguous(), "merged_logits": merged.contiguous()},
              os.path.join(d, "golden_logits.safetensors"))


def prompt_learning(name, kind, cfg, perturb=0.0):
    torch.manual_seed(13)
    m = get_peft_model(copy.deepcopy(base(kind)), cfg)
    if perturb:
        with torch.no_grad():
            for p in m.prompt_encoder.parameters():
                p.add_(torch.randn_like(p) * perturb)
    d = folder(name)
    m.save_pretrained(d)
    m.eval()
    # Reload from the folder, so the outputs are those of the saved (for prefix projection: folded) form.
    loaded = PeftModel.from_pretrained(copy.deepcopy(base(kind)), d).eval()
    x, mask = padded_batch()
    with torch.no_grad():
        logits = loaded(input_ids=x, attention_mask=mask).logits.float()
        trained_form = m(input_ids=x, attention_mask=mask).logits.float()
    save_file({"input_ids": x, "attention_mask": mask, "logits": logits.contiguous(),
               "training_form_logits": trained_form.contiguous(), "greedy": greedy(loaded)},
              os.path.join(d, "golden_logits.safetensors"))


STEPS = {
    "adalora": adalora_trace,
    "ia3": ia3,
    "prompt": lambda: prompt_learning("prompt", "llama", PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=5)),
    "prefix_llama": lambda: prompt_learning("prefix_llama", "llama", PrefixTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=4), 0.5),
    "prefix_qwen2": lambda: prompt_learning("prefix_qwen2", "qwen2", PrefixTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=3), 0.5),
    "prefix_projection": lambda: prompt_learning("prefix_projection", "llama", PrefixTuningConfig(
        task_type="CAUSAL_LM", num_virtual_tokens=4, prefix_projection=True, encoder_hidden_size=16), 0.1),
}
only = set(sys.argv[2].split(",")) if len(sys.argv) > 2 else None
for k, fn in STEPS.items():
    if only is None or k in only:
        fn()
        print("ok", k, flush=True)
