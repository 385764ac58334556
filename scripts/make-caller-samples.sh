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
# The caller's other turns for the call tests (tests/call.rs): answers to the card-blocking flow, a
# backchannel, a request that interrupts the assistant, and a goodbye. Spoken slower (120 words a
# minute, 40 ms between words): at 140, tiny.en misheard "debit" and "check" through 8 kHz mu-law.
say_slowly() { # text, output
  espeak-ng -v en-us -s 120 -g 4 -w /tmp/helpline-caller.wav "$1"
  sox /tmp/helpline-caller.wav -r 8000 -c 1 -e u-law "$2"
}
say_slowly "My debit card, please." audio-samples/caller-debit-card-8k.wav
say_slowly "Yes, please." audio-samples/caller-yes-8k.wav
say_as_caller "Okay." audio-samples/caller-okay-8k.wav
say_slowly "I want to speak to an agent." audio-samples/caller-agent-8k.wav
say_slowly "No, that's all. Thank you." audio-samples/caller-no-thanks-8k.wav
# The last four digits of a card, for `helpline bench calls` (src/bench/calls.rs). Digits said as a
# number: tiny.en through 8 kHz mu-law heard espeak's "nine, eight, seven, six" as "I am a sick". No
# dither (-D), so the file is the same every time: with sox's random dither, one take was heard as
# "9,876" and the next as "1989, 1886". This one is heard as "Last 4 R9,876."
espeak-ng -v en-us -s 140 -g 2 -w /tmp/helpline-caller.wav "The last four are 9876."
sox -D /tmp/helpline-caller.wav -r 8000 -c 1 -e u-law audio-samples/caller-last-four-8k.wav
