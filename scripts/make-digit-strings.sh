#!/usr/bin/env bash
# Regenerates audio-samples/digits/: spoken digit strings, as a caller reads out an account number, made
# by joining real FSDD recordings (CC BY-SA 4.0) of one speaker with 350 ms pauses, at their original
# 8 kHz. Needs the team's evaluation data (../shared/data/speech); run only to change the committed files.
set -euo pipefail
cd "$(dirname "$0")/.."
FSDD=${FSDD:-../shared/data/speech/wav/fsdd}
OUT=audio-samples/digits
mkdir -p "$OUT"
sox -n -r 16000 -c 1 -b 16 /tmp/helpline-gap.wav trim 0 0.35
declare -A ORDER=([george]="4 5 6 7 0 1 2 3 8 9" [jackson]="9 0 2 1 3 8 4 7 6 5" [lucas]="1 2 3 4 5 6 7 8 9 0"
                  [nicolas]="0 9 8 7 6 5 4 3 2 1" [theo]="3 1 4 1 5 9 2 6 5 3" [yweweler]="2 7 1 8 2 8 1 8 2 8")
WORDS=(zero one two three four five six seven eight nine)
: > "$OUT/manifest.jsonl"
for speaker in george jackson lucas nicolas theo yweweler; do
  files=(); text=()
  for d in ${ORDER[$speaker]}; do files+=("$FSDD/${d}_${speaker}_0.wav" /tmp/helpline-gap.wav); text+=("${WORDS[$d]}"); done
  sox "${files[@]}" -r 8000 "$OUT/digits_${speaker}_8k.wav"
  printf '{"file": "digits_%s_8k.wav", "text": "%s", "source": "fsdd (joined)", "orig_sample_rate": 8000, "telephone_band": true, "license": "CC-BY-SA-4.0 (Free Spoken Digit Dataset)"}\n' \
    "$speaker" "${text[*]}" >> "$OUT/manifest.jsonl"
done
