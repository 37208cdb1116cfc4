"""Golden files from the real Python stack (transformers, tokenizers, sentencepiece, tiktoken, peft).

Run on a machine with those packages:  python3 tools/golden/make_golden.py <fixtures-dir> <out-dir>
<fixtures-dir> is ../shared/fixtures (tinyshakespeare, stories260K, gpt2.tiktoken are read from it).
Everything written is small (tiny random models, short token lists) and lands in tests/PeftSharp.Tests/Golden.
"""
import json, os, struct, sys, traceback
import numpy as np
import torch

FIX, OUT = sys.argv[1], sys.argv[2]
os.makedirs(OUT, exist_ok=True)
torch.manual_seed(0)
from safetensors.torch import save_file

TEXTS = [
    "Hello world",
    " Hello  world ",
    "Once upon a time, there was a little girl named Lily.",
    "I'm sure they'll say you've done it, don't you?",
    "Numbers: 12345 and 3.14159, 2024-11-23.",
    "Tabs\tand\nnew lines\n\n  indented",
    "héllo wörld café naïve",
    "日本語のテキスト",
    "emoji 🤗🚀 and symbols ©®™",
    "",
    "   ",
    "First Citizen:\nBefore we proceed any further, hear me speak.",
    "ALL CAPS and MiXeD CaSe",
    "a\u00a0non-breaking space",
]

def run(name, fn):
    try:
        fn()
        print("ok", name, flush=True)
    except Exception:
        print("FAILED", name, flush=True)
        traceback.print_exc()

# ---------------------------------------------------------------- tokenizers
def tok_dir(name):
    d = os.path.join(OUT, "tokenizers", name)
    os.makedirs(d, exist_ok=True)
    return d

def corpus_lines():
    with open(os.path.join(FIX, "data/tinyshakespeare.txt"), encoding="utf-8") as f:
        text = f.read()[:400_000]
    extra = "\n".join(TEXTS) + "\nOnce upon a time there was a little girl named Lily. She loved to play outside.\n"
    return text + extra

def write_cases(d, encode, decode):
    cases = []
    for t in TEXTS:
        ids = encode(t, True)
        plain = encode(t, False)
        cases.append({"text": t, "ids": plain, "ids_with_special": ids, "decoded": decode(plain)})
    with open(os.path.join(d, "cases.json"), "w", encoding="utf-8") as f:
        json.dump(cases, f, ensure_ascii=False, indent=1)

def sentencepiece_models():
    import sentencepiece as spm
    d = tok_dir("sp_bpe")
    train = os.path.join(OUT, "_sp_train.txt")
    with open(train, "w", encoding="utf-8") as f:
        f.write(corpus_lines())
    # Llama-2-like settings: BPE, byte fallback, digits split, identity normalisation, dummy prefix.
    spm.SentencePieceTrainer.train(
        input=train, model_prefix=os.path.join(d, "tokenizer"), model_type="bpe", vocab_size=800,
        byte_fallback=True, split_digits=True, normalization_rule_name="identity",
        remove_extra_whitespaces=False, add_dummy_prefix=True, allow_whitespace_only_pieces=True,
        character_coverage=0.9995, unk_id=0, bos_id=1, eos_id=2, pad_id=-1, max_sentence_length=100000)
    os.remove(train)
    os.remove(os.path.join(d, "tokenizer.vocab"))
    os.rename(os.path.join(d, "tokenizer.model"), os.path.join(d, "tokenizer.model"))
    sp = spm.SentencePieceProcessor(model_file=os.path.join(d, "tokenizer.model"))
    write_cases(d, lambda t, s: ([1] if s else []) + sp.encode(t), lambda ids: sp.decode(ids))
    # The same model as an HF tokenizer.json (what Llama-2/Mistral/SmolLM-style folders carry). transformers'
    # API for this moved between versions, so try the known routes and keep the first that agrees with sentencepiece.
    hf = sp_to_hf(os.path.join(d, "tokenizer.model"), sp)
    dh = tok_dir("sp_bpe_hf")
    hf.save_pretrained(dh)
    for extra in ("tokenizer.model",):
        p = os.path.join(dh, extra)
        if os.path.exists(p):
            os.remove(p)
    write_cases(dh, lambda t, s: hf.encode(t, add_special_tokens=s), lambda ids: hf.decode(ids))

def sp_to_hf(model_file, sp):
    import shutil, tempfile
    def via_auto():
        from transformers import AutoTokenizer
        tmp = tempfile.mkdtemp()
        shutil.copy(model_file, os.path.join(tmp, "tokenizer.model"))
        with open(os.path.join(tmp, "tokenizer_config.json"), "w") as f:
            json.dump({"tokenizer_class": "LlamaTokenizer", "legacy": False, "add_bos_token": True,
                       "add_eos_token": False, "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}, f)
        return AutoTokenizer.from_pretrained(tmp)
    # tokenizer.json files are defined by what the `tokenizers` library does with them, so the golden cases of
    # sp_bpe_hf come from it; where it differs from sentencepiece itself, the differences are printed here.
    hf = via_auto()
    for t in TEXTS:
        a, b = hf.encode(t, add_special_tokens=False), sp.encode(t)
        if a != b:
            print("sp->hf differs on", repr(t), "hf", a, "sp", b, flush=True)
    return hf

QWEN2_PAT = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
LLAMA3_PAT = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""

def byte_level(name, pattern, specials, bos):
    from tokenizers import Tokenizer, models, pre_tokenizers, decoders, trainers, processors, Regex
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=700, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(corpus_lines().split("\n"), trainer)
    if bos:
        bid = tok.token_to_id(bos)
        tok.post_processor = processors.TemplateProcessing(single=f"{bos} $A", pair=f"{bos} $A {bos} $B",
                                                           special_tokens=[(bos, bid)])
    else:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    d = tok_dir(name)
    tok.save(os.path.join(d, "tokenizer.json"))
    from transformers import PreTrainedTokenizerFast
    kw = dict(tokenizer_file=os.path.join(d, "tokenizer.json"))
    if bos:
        kw.update(bos_token=bos, eos_token=specials[1])
    else:
        kw.update(eos_token=specials[0], pad_token=specials[0])
    hf = PreTrainedTokenizerFast(**kw)
    hf.save_pretrained(d)
    write_cases(d, lambda t, s: hf.encode(t, add_special_tokens=s), lambda ids: hf.decode(ids))

def tiktoken_gpt2():
    import tiktoken
    from tiktoken.load import load_tiktoken_bpe
    ranks = load_tiktoken_bpe(os.path.join(FIX, "whisper/gpt2.tiktoken"))
    enc = tiktoken.Encoding(name="gpt2_fixture",
                            pat_str=r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""",
                            mergeable_ranks=ranks, special_tokens={"<|endoftext|>": len(ranks)})
    d = tok_dir("tiktoken_gpt2")
    write_cases(d, lambda t, s: enc.encode(t), lambda ids: enc.decode(ids))
    with open(os.path.join(d, "README.txt"), "w") as f:
        f.write("cases.json: encodings of ../shared/fixtures/whisper/gpt2.tiktoken with GPT-2's pattern, "
                "<|endoftext|> = %d\n" % len(ranks))

# ---------------------------------------------------------------- models
PROMPTS = [[1, 17, 45, 99, 3, 64, 120], [1, 88, 5, 41]]

def save_logits(model, d, extra=None):
    ids = torch.zeros(2, 7, dtype=torch.long)
    mask = torch.zeros(2, 7, dtype=torch.long)
    for i, p in enumerate(PROMPTS):
        ids[i, :len(p)] = torch.tensor(p)
        mask[i, :len(p)] = 1
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask).logits.float()
        gen = model.generate(input_ids=torch.tensor([PROMPTS[0]]), max_new_tokens=12, do_sample=False,
                             eos_token_id=None, pad_token_id=0)
    t = {"input_ids": ids, "attention_mask": mask, "logits": logits.contiguous(), "greedy": gen[0].contiguous()}
    if extra:
        t.update(extra)
    save_file(t, os.path.join(d, "golden_logits.safetensors"))

def tiny(kind):
    import transformers as tf
    common = dict(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                  num_attention_heads=4, max_position_embeddings=256, rms_norm_eps=1e-6,
                  bos_token_id=1, eos_token_id=2, attn_implementation="eager")
    if kind == "llama":
        cfg = tf.LlamaConfig(num_key_value_heads=4, tie_word_embeddings=False, rope_theta=10000.0, **common)
        cls = tf.LlamaForCausalLM
    elif kind == "llama3":
        cfg = tf.LlamaConfig(num_key_value_heads=2, tie_word_embeddings=True, rope_theta=500000.0,
                             rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                           "high_freq_factor": 4.0, "original_max_position_embeddings": 16},
                             **common)
        cls = tf.LlamaForCausalLM
    elif kind == "qwen2":
        cfg = tf.Qwen2Config(num_key_value_heads=2, tie_word_embeddings=True, rope_theta=1000000.0, **common)
        cls = tf.Qwen2ForCausalLM
    elif kind == "mistral":
        cfg = tf.MistralConfig(num_key_value_heads=1, tie_word_embeddings=False, rope_theta=10000.0,
                               sliding_window=None, **common)
        cls = tf.MistralForCausalLM
    torch.manual_seed({"llama": 1, "llama3": 2, "qwen2": 3, "mistral": 4}[kind])
    model = cls(cfg).eval()
    with torch.no_grad():  # HF initialises norms to 1; random norms make the test stronger
        for n, p in model.named_parameters():
            if "norm" in n:
                p.add_(torch.randn_like(p) * 0.1)
            if n.endswith("bias"):
                p.normal_(std=0.05)
    d = os.path.join(OUT, "models", kind)
    model.save_pretrained(d, safe_serialization=True)
    save_logits(model, d)
    return model

def peft_adapters(base_model):
    from peft import LoraConfig, get_peft_model
    import copy
    variants = {
        "lora_qv": LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], lora_dropout=0.0),
        "dora_all_linear": LoraConfig(r=4, lora_alpha=16, target_modules="all-linear", use_dora=True),
        "rslora_embed": LoraConfig(r=8, lora_alpha=4, use_rslora=True, target_modules=["embed_tokens", "o_proj", "down_proj"]),
        "lora_patterns": LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "k_proj", "up_proj"],
                                    rank_pattern={"k_proj": 2}, alpha_pattern={"up_proj": 3}, layers_to_transform=[1]),
    }
    for name, cfg in variants.items():
        torch.manual_seed(7)
        m = get_peft_model(copy.deepcopy(base_model), cfg)
        with torch.no_grad():
            for n, p in m.named_parameters():
                if "lora_B" in n or "lora_embedding_B" in n or "lora_magnitude_vector" in n:
                    p.add_(torch.randn_like(p) * 0.1)
        d = os.path.join(OUT, "peft", name)
        m.save_pretrained(d)
        m.eval()
        merged = m.merge_and_unload()
        ids = torch.tensor([PROMPTS[0]])
        with torch.no_grad():
            m2 = get_peft_model(copy.deepcopy(base_model), cfg)
            from peft import set_peft_model_state_dict
            from safetensors.torch import load_file
            set_peft_model_state_dict(m2, load_file(os.path.join(d, "adapter_model.safetensors")))
            adapted = m2(input_ids=ids).logits.float()
            merged_logits = merged(input_ids=ids).logits.float()
        save_file({"input_ids": ids, "logits": adapted.contiguous(), "merged_logits": merged_logits.contiguous()},
                  os.path.join(d, "golden_logits.safetensors"))

def stories260k():
    """llama2.c -> HF conversion done the way HF's converter does it, as an independent check of ours."""
    import transformers as tf
    path = os.path.join(FIX, "models/stories260K/stories260K.bin")
    raw = open(path, "rb").read()
    dim, hidden, n_layers, n_heads, n_kv, vocab, seq = struct.unpack("7i", raw[:28])
    shared = vocab > 0
    vocab = abs(vocab)
    w = np.frombuffer(raw[28:], dtype=np.float32)
    off = 0
    def take(*shape):
        nonlocal off
        n = int(np.prod(shape))
        a = torch.from_numpy(w[off:off + n].copy()).reshape(*shape)
        off += n
        return a
    head = dim // n_heads
    emb = take(vocab, dim)
    att_norm = take(n_layers, dim)
    wq = take(n_layers, dim, dim); wk = take(n_layers, n_kv * head, dim); wv = take(n_layers, n_kv * head, dim)
    wo = take(n_layers, dim, dim)
    ffn_norm = take(n_layers, dim)
    w1 = take(n_layers, hidden, dim); w2 = take(n_layers, dim, hidden); w3 = take(n_layers, hidden, dim)
    final_norm = take(dim)
    off += seq * head  # freq_cis_real + freq_cis_imag (seq * head/2 each)
    cls_w = emb if shared else take(vocab, dim)
    def permute(t, heads):  # interleaved pairs -> HF halves, as HF's conversion script
        o, i = t.shape
        return t.view(heads, o // heads // 2, 2, i).transpose(1, 2).reshape(o, i)
    cfg = tf.LlamaConfig(vocab_size=vocab, hidden_size=dim, intermediate_size=hidden, num_hidden_layers=n_layers,
                         num_attention_heads=n_heads, num_key_value_heads=n_kv, max_position_embeddings=seq,
                         rms_norm_eps=1e-5, tie_word_embeddings=shared, bos_token_id=1, eos_token_id=2,
                         attn_implementation="eager")
    model = tf.LlamaForCausalLM(cfg).eval()
    sd = {"model.embed_tokens.weight": emb, "model.norm.weight": final_norm, "lm_head.weight": cls_w}
    for l in range(n_layers):
        p = f"model.layers.{l}."
        sd[p + "input_layernorm.weight"] = att_norm[l]
        sd[p + "post_attention_layernorm.weight"] = ffn_norm[l]
        sd[p + "self_attn.q_proj.weight"] = permute(wq[l], n_heads)
        sd[p + "self_attn.k_proj.weight"] = permute(wk[l], n_kv)
        sd[p + "self_attn.v_proj.weight"] = wv[l]
        sd[p + "self_attn.o_proj.weight"] = wo[l]
        sd[p + "mlp.gate_proj.weight"] = w1[l]
        sd[p + "mlp.down_proj.weight"] = w2[l]
        sd[p + "mlp.up_proj.weight"] = w3[l]
    missing, unexpected = model.load_state_dict(sd, strict=False)
    print("stories260K missing", missing, "unexpected", unexpected)
    with torch.no_grad():
        gen = model.generate(input_ids=torch.tensor([[1]]), max_new_tokens=60, do_sample=False, eos_token_id=None,
                             pad_token_id=0)[0]
        logits = model(input_ids=gen[None, :16]).logits[0].float()
    d = os.path.join(OUT, "stories260K")
    os.makedirs(d, exist_ok=True)
    save_file({"greedy": gen.contiguous(), "logits_first16": logits.contiguous()}, os.path.join(d, "golden_hf.safetensors"))
    print("stories260K greedy ids", gen.tolist())

ONLY = set(sys.argv[3].split(",")) if len(sys.argv) > 3 else None
def step(name, fn):
    if ONLY is None or name.split()[0] in ONLY:
        run(name, fn)
step("sentencepiece", sentencepiece_models)
step("bytelevel_qwen2", lambda: byte_level("bytelevel_qwen2", QWEN2_PAT, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], None))
step("bytelevel_llama3", lambda: byte_level("bytelevel_llama3", LLAMA3_PAT, ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"], "<|begin_of_text|>"))
step("tiktoken", tiktoken_gpt2)
models = {}
for k in ("llama", "llama3", "qwen2", "mistral"):
    step("model " + k, lambda k=k: models.__setitem__(k, tiny(k)))
if "llama" in models:
    step("peft", lambda: peft_adapters(models["llama"]))
step("stories260K", stories260k)
import transformers, peft, tokenizers
with open(os.path.join(OUT, "VERSIONS.txt"), "w") as f:
    f.write(f"torch {torch.__version__}\ntransformers {transformers.__version__}\npeft {peft.__version__}\n"
            f"tokenizers {tokenizers.__version__}\n")
