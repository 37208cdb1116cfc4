"""Golden log-mel spectrogram of jfk.wav from transformers' WhisperFeatureExtractor (Whisper's front end).

    python3 tools/golden/make_golden_logmel.py <jfk.wav> <mel_filters.npz> <out.safetensors>
Writes input_features for 80 and 128 mel bins (the 1,100 frames that hold the 11 s of speech; the rest of the 30 s
window is padding) and the maximum of each full [bins, 3000] array, plus the extractor's own filterbanks' maximum
deviation from the npz file's.
"""
import sys, wave
import numpy as np, torch
from safetensors.torch import save_file
from transformers import WhisperFeatureExtractor

wav, filters, out = sys.argv[1:4]
with wave.open(wav) as w:
    assert w.getsampwidth() == 2 and w.getnchannels() == 1 and w.getframerate() == 16000
    audio = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32) / 32768.0
npz = np.load(filters)
t = {"audio_samples": torch.tensor([audio.shape[0]])}
for bins in (80, 128):
    fe = WhisperFeatureExtractor(feature_size=bins)
    feats = fe(audio, sampling_rate=16000, return_tensors="np").input_features[0]
    t[f"log_mel_{bins}"] = torch.from_numpy(feats[:, :1100].copy())
    t[f"log_mel_{bins}_full_max"] = torch.tensor([float(feats.max())])
    t[f"log_mel_{bins}_full_min"] = torch.tensor([float(feats.min())])
    dev = float(np.abs(fe.mel_filters.T - npz[f"mel_{bins}"]).max())
    print(bins, feats.shape, "filterbank deviation from npz", dev)
save_file(t, out)
