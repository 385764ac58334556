#!/usr/bin/env bash
# Regenerates the synthetic caller recordings in audio-samples/ (committed; run only to change them).
# They are spoken by espeak-ng, a different voice from the assistant's Piper voice, and stored as a
# phone line delivers them: 8 kHz G.711 mu-law WAV.
set -euo pipefail
cd "$(dirname "$0")/.."
say_as_caller() { # text, output
  espeak-ng -v en-us -s 140 -w /tmp/helpline-caller.wav "$1"
  sox /tmp/helpline-caller.wav -r 8000 -c 1 -e u-law "$2"
}
say_as_caller "Hi, I think my credit card was stolen. Can you block it please?" audio-samples/caller-stolen-card-8k.wav
# The turns of the end-to-end tests and `helpline bench calls` (Acme Bank's sample line).
say_as_caller "Yes, please." audio-samples/caller-yes-8k.wav
say_as_caller "No, that's all, thank you." audio-samples/caller-no-thanks-8k.wav
say_as_caller "Can I talk to a real person, please?" audio-samples/caller-agent-8k.wav
