#!/usr/bin/env python3
"""Writes a random llama2.c checkpoint (a larger shape than stories260K, same 512-token tokenizer) for scaling runs.

    python3 tools/distributed/random_llama2c.py OUT_DIR [--dim 512 --layers 4 --hidden 1376]
OUT_DIR gets model.bin and a copy of stories260K's tok512.bin, so `base_model: OUT_DIR` loads it.
"""
import argparse, array, os, random, shutil, struct

p = argparse.ArgumentParser()
p.add_argument("out")
p.add_argument("--dim", type=int, default=512)
p.add_argument("--layers", type=int, default=4)
p.add_argument("--hidden", type=int, default=1376)
p.add_argument("--heads", type=int, default=8)
p.add_argument("--fixtures", default=os.environ.get("PEFTSHARP_FIXTURES", "../shared/fixtures"))
a = p.parse_args()
vocab, seq = 512, 512
rng = random.Random(0)

def rand(n, std=0.02):  # uniform with the given standard deviation: shape matters here, not the values
    return array.array("f", [(rng.random() - 0.5) * std * 3.4641 for _ in range(n)]).tobytes()

def ones(n):
    return array.array("f", [1.0] * n).tobytes()

os.makedirs(a.out, exist_ok=True)
d, h, L = a.dim, a.hidden, a.layers
with open(os.path.join(a.out, "model.bin"), "wb") as f:
    f.write(struct.pack("7i", d, h, L, a.heads, a.heads, vocab, seq))  # positive vocab: shared classifier
    f.write(rand(vocab * d))
    f.write(ones(L * d))
    for _ in range(4):  # wq, wk, wv, wo
        f.write(rand(L * d * d))
    f.write(ones(L * d))
    for n in (h * d, d * h, h * d):  # w1, w2, w3
        f.write(rand(L * n))
    f.write(ones(d))
    f.write(bytes(4 * seq * (d // a.heads)))  # freq_cis real and imaginary halves (unused)
shutil.copy(os.path.join(a.fixtures, "models", "stories260K", "tok512.bin"), a.out)
print(f"wrote {a.out}/model.bin: dim {d}, {L} layers, FFN {h}")
