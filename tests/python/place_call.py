#!/usr/bin/env python3
"""Places one call on a Helpline server from Python, the way a telephony platform would.

The client code is generated from proto/helpline.proto at run time with grpcio-tools (into a temporary
folder; nothing generated is committed), so this also proves the proto compiles for another language.

The call: set-up (8 kHz mu-law, fast pacing), a recorded caller turn streamed in 20 ms chunks, silence
while the assistant answers (a phone line never goes quiet), a hang-up once the reply has been heard.
It checks that a final transcript, a reply with audio and CallEnded arrived, prints a JSON summary, and
exits 1 naming what was missing.

    python3 tests/python/place_call.py --server 127.0.0.1:50051 --wav audio-samples/caller-stolen-card-8k.wav
"""

import argparse
import json
import os
import queue
import struct
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FRAME_BYTES = 160  # 20 ms of 8 kHz mu-law
MULAW_SILENCE = b"\xff" * FRAME_BYTES
WAVE_FORMAT_MULAW = 7


def generate_client(out_dir):
    """Compile the proto into Python modules in out_dir and import them."""
    proto_dir = os.path.join(REPO, "proto")
    result = subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{proto_dir}", f"--python_out={out_dir}",
         f"--grpc_python_out={out_dir}", os.path.join(proto_dir, "helpline.proto")],
        capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"grpc_tools.protoc could not compile proto/helpline.proto:\n{result.stderr}")
    sys.path.insert(0, out_dir)
    import helpline_pb2
    import helpline_pb2_grpc
    return helpline_pb2, helpline_pb2_grpc


def read_mulaw_wav(path):
    """The data of an 8 kHz mono mu-law WAV (Python's wave module reads PCM only)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        sys.exit(f"{path} is not a WAV file")
    pos, fmt, audio = 12, None, None
    while pos + 8 <= len(data):
        chunk_id, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        body = data[pos + 8:pos + 8 + size]
        if chunk_id == b"fmt ":
            fmt = struct.unpack("<HHI", body[:8])
        elif chunk_id == b"data":
            audio = body
        pos += 8 + size + (size & 1)
    if fmt != (WAVE_FORMAT_MULAW, 1, 8000) or audio is None:
        sys.exit(f"{path} must be 8 kHz mono mu-law (format, channels, rate = {fmt}); "
                 "scripts/make-caller-samples.sh makes such files")
    return audio


def place_call(pb, rpc, server, wav, caller, timeout_s):
    import grpc

    audio = read_mulaw_wav(wav)
    outbox = queue.Queue()
    hung_up = threading.Event()
    caller_done = threading.Event()

    def requests():
        while True:
            message = outbox.get()
            if message is None:
                return
            yield message

    def line():
        """The caller's side of the line: the recording, then silence until hang-up."""
        sequence = 0
        for start in range(0, len(audio), FRAME_BYTES):
            outbox.put(pb.CallerMessage(audio=pb.AudioChunk(audio=audio[start:start + FRAME_BYTES], sequence=sequence)))
            sequence += 1
        caller_done.set()
        while not hung_up.is_set():
            outbox.put(pb.CallerMessage(audio=pb.AudioChunk(audio=MULAW_SILENCE, sequence=sequence)))
            sequence += 1
            time.sleep(0.02)

    outbox.put(pb.CallerMessage(setup=pb.CallSetup(
        call_id=f"python-{os.getpid()}", caller_number=caller, encoding=pb.AUDIO_ENCODING_MULAW,
        sample_rate_hz=8000, pacing=pb.PACING_FAST)))
    summary = {"final_transcripts": [], "replies": [], "reply_audio_bytes": 0, "errors": [], "ended": None}
    answered = set()  # reply ids whose last audio chunk arrived after the caller spoke
    with grpc.insecure_channel(server) as channel:
        stub = rpc.PhoneLineStub(channel)
        sender = threading.Thread(target=line, daemon=True)
        sender.start()
        deadline = time.monotonic() + timeout_s
        try:
            for message in stub.Converse(requests(), timeout=timeout_s):
                kind = message.WhichOneof("event")
                if kind == "final_transcript":
                    summary["final_transcripts"].append(message.final_transcript.text)
                elif kind == "reply_text":
                    summary["replies"].append(message.reply_text.text)
                elif kind == "reply_audio":
                    summary["reply_audio_bytes"] += len(message.reply_audio.audio)
                    if message.reply_audio.last and summary["final_transcripts"]:
                        answered.add(message.reply_audio.reply_id)
                        if not hung_up.is_set():
                            hung_up.set()
                            outbox.put(pb.CallerMessage(client_message_id="bye", hang_up=pb.HangUp()))
                elif kind == "error":
                    summary["errors"].append(message.error.message)
                elif kind == "call_ended":
                    summary["ended"] = pb.EndReason.Name(message.call_ended.reason)
                    summary["timings"] = len(message.call_ended.turns)
                    break
                if time.monotonic() > deadline:
                    break
        finally:
            hung_up.set()
            outbox.put(None)
    missing = [what for what, ok in [
        ("a final transcript", summary["final_transcripts"]),
        ("a reply", summary["replies"]),
        ("reply audio", summary["reply_audio_bytes"] > 0 and answered),
        ("CallEnded", summary["ended"]),
    ] if not ok]
    print(json.dumps(summary))
    if missing:
        sys.exit("the call lacked " + ", ".join(missing))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", required=True, help="host:port of helpline serve")
    parser.add_argument("--wav", required=True, help="the caller's turn: an 8 kHz mu-law WAV")
    parser.add_argument("--caller", default="+15551234567", help="the caller's number (E.164)")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds before giving up")
    args = parser.parse_args()
    try:
        import grpc_tools  # noqa: F401
    except ImportError:
        sys.exit("grpc_tools is not installed; run scripts/setup.sh (it pip-installs grpcio-tools)")
    with tempfile.TemporaryDirectory(prefix="helpline-python-client-") as out_dir:
        pb, rpc = generate_client(out_dir)
        place_call(pb, rpc, args.server, args.wav, args.caller, args.timeout)


if __name__ == "__main__":
    main()
