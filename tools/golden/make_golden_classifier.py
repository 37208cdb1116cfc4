"""A tiny random LlamaForSequenceClassification (HF layout) and its logits, for the classification head's interop test.

    python3 tools/golden/make_golden_classifier.py tests/PeftSharp.Tests/Golden
Writes <golden>/models/llama_cls: config.json (num_labels 3 via id2label/label2id, pad_token_id 0), model.safetensors
(`model.*` and `score.weight`), golden_logits.safetensors: input_ids (2 x 7, right padded with 0) and the pooled
logits [2, 3] (HF pools the last non-pad token).
"""
import os, sys
import torch
import transformers as tf
from safetensors.torch import save_file

out = os.path.join(sys.argv[1], "models", "llama_cls")
cfg = tf.LlamaConfig(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                     num_key_value_heads=2, max_position_embeddings=256, rms_norm_eps=1e-6, bos_token_id=1,
                     eos_token_id=2, pad_token_id=0, tie_word_embeddings=False, attn_implementation="eager",
                     id2label={0: "negative", 1: "neutral", 2: "positive"},
                     label2id={"negative": 0, "neutral": 1, "positive": 2})
torch.manual_seed(9)
model = tf.LlamaForSequenceClassification(cfg).eval()
with torch.no_grad():
    for n, p in model.named_parameters():
        if "norm" in n:
            p.add_(torch.randn_like(p) * 0.1)
        if n == "score.weight":
            p.normal_(std=0.5)
model.save_pretrained(out, safe_serialization=True)
prompts = [[1, 17, 45, 99, 3, 64, 120], [1, 88, 5, 41]]
ids = torch.zeros(2, 7, dtype=torch.long)
mask = torch.zeros(2, 7, dtype=torch.long)
for i, p in enumerate(prompts):
    ids[i, :len(p)] = torch.tensor(p)
    mask[i, :len(p)] = 1
with torch.no_grad():
    logits = model(input_ids=ids, attention_mask=mask).logits.float()
save_file({"input_ids": ids, "attention_mask": mask, "logits": logits.contiguous()}, os.path.join(out, "golden_logits.safetensors"))
print(logits)
