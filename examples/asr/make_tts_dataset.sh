#!/usr/bin/env bash
# Synthesizes a small English speech-recognition set with espeak-ng (or flite): one WAV per line of a sentences
# file, then train.jsonl / eval.jsonl manifests ({"audio": "wavs/0001.wav", "text": ..., "language": "en"}),
# audio paths relative to the manifests. Deterministic: line i gets voice i mod #voices and speed
# (i / #voices) mod #speeds, and every 5th line (i mod 5 == 4) goes to eval, the rest (80%) to train.
#
#   make_tts_dataset.sh OUT_DIR [--sentences FILE] [--voices "en-us en-gb"] [--speeds "150 175"]
#
# espeak-ng writes 22050 Hz mono PCM16, flite 16 kHz; PeftSharp resamples both to Whisper's 16 kHz.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
usage() { echo "usage: $0 OUT_DIR [--sentences FILE] [--voices \"v1 v2\"] [--speeds \"s1 s2\"]" >&2; exit 2; }

[[ $# -ge 1 ]] || usage
out="$1"; shift
sentences="$here/sentences.txt"
voices=""
speeds="150 175 195"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --sentences) sentences="${2:?}"; shift 2 ;;
    --voices) voices="${2:?}"; shift 2 ;;
    --speeds) speeds="${2:?}"; shift 2 ;;
    *) usage ;;
  esac
done
[[ -f "$sentences" ]] || { echo "error: sentences file '$sentences' not found; pass --sentences FILE" >&2; exit 1; }

# The synthesizer: espeak-ng, else flite, else install espeak-ng (Debian/Ubuntu, as root), falling back to flite.
install_tts() {
  if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
    echo "error: neither espeak-ng nor flite is installed; install one (e.g. 'sudo apt-get install espeak-ng')" >&2
    exit 1
  fi
  echo "installing espeak-ng from the distribution's packages..." >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng >/dev/null ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq flite >/dev/null ||
    { echo "error: could not install espeak-ng or flite with apt-get" >&2; exit 1; }
}
command -v espeak-ng >/dev/null || command -v flite >/dev/null || install_tts
if command -v espeak-ng >/dev/null; then
  engine=espeak-ng
  voices="${voices:-en-us en-gb en-us+f2 en-gb-scotland}"
else
  engine=flite
  voices="${voices:-slt kal rms awb}"
fi
read -r -a voice_list <<<"$voices"
read -r -a speed_list <<<"$speeds"

synthesize() { # text voice speed(words per minute) wav
  if [[ $engine == espeak-ng ]]; then
    espeak-ng -v "$2" -s "$3" -w "$4" "$1"
  else # flite has no words-per-minute; stretch durations relative to espeak's default 175 wpm
    flite -voice "$2" --setf duration_stretch="$(awk -v s="$3" 'BEGIN { printf "%.3f", 175 / s }')" -t "$1" -o "$4"
  fi
}

json_string() { # escapes backslash, quote and tab for a JSON string body
  printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/\t/\\t/g'
}

mkdir -p "$out/wavs"
train_tmp="$(mktemp "$out/.train.XXXXXX")"
eval_tmp="$(mktemp "$out/.eval.XXXXXX")"
trap 'rm -f "$train_tmp" "$eval_tmp"' EXIT

start=$(date +%s.%N)
i=0
bytes=0
while IFS= read -r line || [[ -n "$line" ]]; do
  text="$(printf '%s' "$line" | sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//')"
  [[ -n "$text" ]] || continue
  name=$(printf 'wavs/%04d.wav' $((i + 1)))
  voice="${voice_list[i % ${#voice_list[@]}]}"
  speed="${speed_list[(i / ${#voice_list[@]}) % ${#speed_list[@]}]}"
  synthesize "$text" "$voice" "$speed" "$out/$name"
  bytes=$((bytes + $(stat -c %s "$out/$name") - 44))   # both engines write a 44-byte PCM16 header
  rate=$(od -An -tu4 -j24 -N4 "$out/$name" | tr -d ' ')
  row="{\"audio\": \"$name\", \"text\": \"$(json_string "$text")\", \"language\": \"en\"}"
  if (( i % 5 == 4 )); then echo "$row" >>"$eval_tmp"; else echo "$row" >>"$train_tmp"; fi
  i=$((i + 1))
done <"$sentences"
(( i > 0 )) || { echo "error: '$sentences' has no non-empty lines" >&2; exit 1; }

# Complete manifests replace any old ones in one step each.
mv "$train_tmp" "$out/train.jsonl"
mv "$eval_tmp" "$out/eval.jsonl"
trap - EXIT
elapsed=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
seconds=$(awk -v b="$bytes" -v r="$rate" 'BEGIN { printf "%.1f", b / 2 / r }')
echo "$engine: $i clips ($(wc -l <"$out/train.jsonl") train, $(wc -l <"$out/eval.jsonl") eval), ${seconds} s of audio at ${rate} Hz, in ${elapsed} s -> $out"
