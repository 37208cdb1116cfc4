"""A tiny random WhisperForConditionalGeneration (HF layout), its logits and its greedy tokens from `generate`.

    python3 tools/golden/make_golden_whisper.py tests/PeftSharp.Tests/Golden
Writes <golden>/whisper/tiny_random: config.json, generation_config.json, model.safetensors (as save_pretrained writes
them: encoder sinusoids stored, proj_out tied) and golden.safetensors with
  input_features [2, 80, 3000] (seeded normal), decoder_input_ids [2, 6] (forced prefix + two text tokens),
  logits [2, 6, 51865] (fp32, teacher forced), greedy_tokens [2, 4 + n] (generate with language en, task transcribe,
  no timestamps, greedy, forced prefix first, end-of-text padding), max_new_tokens [1].
The tokenizer is not saved: the test pairs the folder with ../shared/fixtures/whisper/multilingual.tiktoken.
"""
import os, sys
import torch
import transformers as tf
from safetensors.torch import save_file

out = os.path.join(sys.argv[1], "whisper", "tiny_random")
SOT, EOT, EN, TRANSCRIBE, TRANSLATE, NO_TIMESTAMPS = 50258, 50257, 50259, 50359, 50358, 50363
LANGS = ["en", "zh", "de", "es", "ru", "ko", "fr", "ja", "pt", "tr", "pl", "ca", "nl", "ar", "sv", "it", "id", "hi", "fi", "vi",
         "he", "uk", "el", "ms", "cs", "ro", "da", "hu", "ta", "no", "th", "ur", "hr", "bg", "lt", "la", "mi", "ml", "cy", "sk",
         "te", "fa", "lv", "bn", "sr", "az", "sl", "kn", "et", "mk", "br", "eu", "is", "hy", "ne", "mn", "bs", "kk", "sq", "sw",
         "gl", "mr", "pa", "si", "km", "sn", "yo", "so", "af", "oc", "ka", "be", "tg", "sd", "gu", "am", "yi", "lo", "uz", "fo",
         "ht", "ps", "tk", "nn", "mt", "sa", "lb", "my", "bo", "tl", "mg", "as", "tt", "haw", "ln", "ha", "ba", "jw", "su"]
SUPPRESS = [1, 2, 7, 8, 9, 10, 14, 25, 26, 27, 28, 29, 31, 58, 59, 60, 61, 62, 63, 90, 91, 92, 93, 359, 503, 522, 542,
            TRANSLATE, TRANSCRIBE, SOT, 50360, 50361, 50362]  # a slice of whisper-tiny's list plus the task/prefix tokens
MAX_NEW = 12

cfg = tf.WhisperConfig(vocab_size=51865, num_mel_bins=80, d_model=64, encoder_layers=2, decoder_layers=2,
                       encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=128, decoder_ffn_dim=128,
                       max_source_positions=1500, max_target_positions=448, pad_token_id=EOT, bos_token_id=EOT,
                       eos_token_id=EOT, decoder_start_token_id=SOT, suppress_tokens=SUPPRESS,
                       begin_suppress_tokens=[220, EOT], scale_embedding=False, dropout=0.0, attention_dropout=0.0,
                       activation_dropout=0.0, attn_implementation="eager")
torch.manual_seed(41)
model = tf.WhisperForConditionalGeneration(cfg).eval()
with torch.no_grad():
    for n, p in model.named_parameters():
        if n == "model.encoder.embed_positions.weight":
            continue  # stays the sinusoids
        if "layer_norm" in n:
            p.copy_((1.0 if n.endswith("weight") else 0.0) + 0.1 * torch.randn_like(p))
        else:
            p.normal_(std=0.2)

gen = model.generation_config
gen.decoder_start_token_id = SOT
gen.forced_decoder_ids = None
gen.is_multilingual = True
gen.lang_to_id = {f"<|{c}|>": EN + i for i, c in enumerate(LANGS)}
gen.task_to_id = {"transcribe": TRANSCRIBE, "translate": TRANSLATE}
gen.no_timestamps_token_id = NO_TIMESTAMPS
gen.suppress_tokens = SUPPRESS
gen.begin_suppress_tokens = [220, EOT]
gen.max_length = 448
model.save_pretrained(out, safe_serialization=True)

torch.manual_seed(42)
features = torch.randn(2, 80, 3000)
prefix = torch.tensor([[SOT, EN, TRANSCRIBE, NO_TIMESTAMPS]] * 2)
ids = torch.cat([prefix, torch.tensor([[440, 3001], [17, 9]])], 1)
with torch.no_grad():
    logits = model(input_features=features, decoder_input_ids=ids).logits.float()
    seq = model.generate(input_features=features, language="en", task="transcribe", return_timestamps=False,
                         do_sample=False, num_beams=1, max_new_tokens=MAX_NEW)
    seq = seq.sequences if hasattr(seq, "sequences") else seq
if seq.shape[1] < 4 or not torch.equal(seq[:, :4], prefix):
    seq = torch.cat([prefix, seq], 1)  # versions that strip the forced prefix from what generate returns
save_file({"input_features": features.contiguous(), "decoder_input_ids": ids.contiguous(), "logits": logits.contiguous(),
           "greedy_tokens": seq.long().contiguous(), "max_new_tokens": torch.tensor([MAX_NEW])},
          os.path.join(out, "golden.safetensors"))
print(tf.__version__, seq.tolist())
