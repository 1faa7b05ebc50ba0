#!/usr/bin/env python3
"""Writes the fuzz targets' seed inputs into fuzz/corpus/<target>/ from real inputs: the
OpenClaw frames captured in the shared fixtures file, and the payloads the tests' fake
platforms send. The replication seeds (corpus/manifest, corpus/segment) are kept as files:
a manifest and a segment written by molt's own `Manifest::encode` and `gzip`."""
import base64, hashlib, hmac, json, os, sys

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus")
frames_fixture = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/fixtures/openclaw-frames.json"


def put(target, name, data):
    folder = os.path.join(root, target)
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, (dict, list)):
        data = json.dumps(data, separators=(",", ":"))
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(folder, name), "wb") as out:
        out.write(data)


# Gateway frames: every client-to-server frame OpenClaw's own clients sent.
if os.path.exists(frames_fixture):
    fixture = json.load(open(frames_fixture))
    seen = set()
    for session in fixture["sessions"]:
        for index, frame in enumerate(session.get("frames", [])):
            if frame.get("dir") != "c2s":
                continue
            raw = frame.get("frame")
            text = raw if isinstance(raw, str) else json.dumps(raw, separators=(",", ":"))
            if text in seen:
                continue
            seen.add(text)
            put("frames", f"{session['name']}-{index}", text)
put("frames", "not-req", '{"type":"res","id":"x1","ok":true}')
put("frames", "no-method", '{"type":"req","id":"r1"}')

# Telegram: webhook bodies and a getUpdates answer, as tests/it/channels_telegram.rs sends them.
user = {"id": 4242, "is_bot": False, "first_name": "Ada", "last_name": "L", "username": "ada"}
put("telegram", "webhook-private", {"update_id": 77, "message": {"message_id": 5, "date": 1, "text": "via webhook", "from": user, "chat": {"id": 4242, "type": "private"}}})
put("telegram", "group-mention", {"update_id": 5, "message": {"message_id": 1, "text": "hi @Molt_Bot `ls <dir>`", "from": user, "chat": {"id": -100, "type": "supergroup"}, "is_topic_message": True, "message_thread_id": 9, "reply_to_message": {"message_id": 0, "from": {"id": 99}}}})
put("telegram", "get-updates", {"ok": True, "result": [{"update_id": 1, "message": {"message_id": 2, "caption": "```rust\nfn x() {}\n```", "from": user, "chat": {"id": 4242, "type": "private"}}}, {"update_id": 2, "edited_message": {}}]})

# Slack: the fake platform's event_callback and its Socket Mode envelope.
callback = {"token": "verification-token", "team_id": "T1", "api_app_id": "A1", "type": "event_callback", "event_id": "Ev00000001", "event_time": 1700000100,
            "event": {"type": "message", "channel": "C1", "channel_type": "channel", "user": "U1", "text": "hi <@UBOT>", "ts": "1700000100.000001", "event_ts": "1700000100.000001", "thread_ts": "1700000000.000001"}}
put("slack_event", "callback", callback)
put("slack_event", "envelope", {"envelope_id": "env-2", "type": "events_api", "payload": callback, "accepts_response_payload": False, "retry_attempt": 1, "retry_reason": "timeout"})
put("slack_event", "url-verification", {"token": "t", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification"})
put("slack_event", "app-mention-dm", {"type": "event_callback", "event": {"type": "app_mention", "channel": "D1", "user": "U2", "text": "<@UBOT> hi", "ts": "2.1"}})

# Slack signatures: Slack's documented example (timestamp NUL signature NUL body), and a
# fresh one for the target's clock.
secret = b"8f742231b10e8888abcd99yyyzzz85a5"
body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
put("slack_signature", "documented", b"1531420618\0v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503\0" + body)
json_body = json.dumps(callback, separators=(",", ":")).encode()
signature = hmac.new(secret, b"v0:1531420600:" + json_body, hashlib.sha256).hexdigest()
put("slack_signature", "events-api", b"1531420600\0v0=" + signature.encode() + b"\0" + json_body)

# Discord: the fake gateway's hello, READY, MESSAGE_CREATE, op 7 / 9 / 11.
put("discord", "hello", {"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None})
put("discord", "ready", {"op": 0, "s": 1, "t": "READY", "d": {"session_id": "s1", "resume_gateway_url": "ws://127.0.0.1:1/resume", "user": {"id": "99", "username": "molt"}}})
put("discord", "message-create", {"op": 0, "s": 2, "t": "MESSAGE_CREATE", "d": {"id": "11", "channel_id": "22", "guild_id": "1", "author": {"id": "33", "username": "user33"}, "content": "hi <@99>", "mentions": [{"id": "99"}], "referenced_message": {"author": {"id": "99"}}}})
put("discord", "dm", {"op": 0, "s": 3, "t": "MESSAGE_CREATE", "d": {"id": "12", "channel_id": "23", "author": {"id": "34", "username": "user34"}, "content": "dm"}})
put("discord", "reconnect", {"op": 7, "d": None})
put("discord", "invalid-session", {"op": 9, "d": True})
put("discord", "ack", {"op": 11, "d": None})


# Access: tokens shaped like Cloudflare's (RS256 with a kid), a `none` token, a cookie header.
def b64(value):
    raw = value if isinstance(value, bytes) else json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


claims = {"aud": ["aud-tag"], "email": "ops@example.com", "exp": 1795966692, "iat": 1795966592, "nbf": 1795966592, "iss": "https://team.cloudflareaccess.com", "type": "app", "identity_nonce": "n", "sub": "7335d417-61da-459d-899c-0a01c76a2d9a", "country": "NL"}
service = {"aud": ["aud-tag"], "common_name": "client.access", "exp": 1795966692, "iss": "https://team.cloudflareaccess.com", "sub": ""}
signature = b64(b"\x01" * 256)
token = f"{b64({'alg': 'RS256', 'kid': 'key1', 'typ': 'JWT'})}.{b64(claims)}.{signature}"
put("access", "rs256", token)
put("access", "service-token", f"{b64({'alg': 'RS256', 'kid': 'key2'})}.{b64(service)}.{signature}")
put("access", "none", f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}.")
put("access", "cookie", f"theme=dark; CF_Authorization={token}; other=1")

# SSE: an Anthropic stream and an OpenAI one, as the fake providers send them (first byte:
# the chunking seed).
anthropic = "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in [
    ("message_start", {"type": "message_start", "message": {"id": "msg_1", "usage": {"input_tokens": 10, "cache_read_input_tokens": 2, "output_tokens": 1}}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}}),
    ("ping", {"type": "ping"}),
    ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 5}}),
    ("message_stop", {"type": "message_stop"})])
put("sse", "anthropic", b"\x03" + anthropic.encode())
openai = "".join(f"data: {json.dumps(data)}\r\n\r\n" for data in [
    {"id": "c1", "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hi"}}]},
    {"id": "c1", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 3, "completion_tokens": 1}}]) + "data: [DONE]\r\n\r\n"
put("sse", "openai", b"\x05" + openai.encode())
put("sse", "comments", b"\x01: keepalive\n\nretry: 10\nid: 1\ndata\ndata:a\ndata:b\n\n")

# Split: replies with paragraphs, lines, code and long words (first byte: the limit).
put("split", "paragraphs", b"\x0fFirst paragraph here.\n\nSecond one\nwith lines and words.\n\nThird.")
put("split", "code", b"\x1fHere:\n```rust\nfn main() {\n    println!(\"hi\");\n}\n```\nDone `x`.")
put("split", "unicode", "\x07héllo wörld ünïcödé 日本語のテキスト 🦀🦀🦀 end".encode())
put("split", "whitespace", b"\x03a\t\t\t\t\t\t\r\n\r\n   b  \xc2\xa0\xc2\xa0\xc2\xa0 c")

# Model providers: the event data of an Anthropic stream with text and a tool call, and of an
# OpenAI-compatible one with tool-call deltas, usage and `[DONE]`, one event a line.
anthropic = [
    {"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": "claude-sonnet-4-5", "usage": {"input_tokens": 25, "cache_read_input_tokens": 10, "cache_creation_input_tokens": 5, "output_tokens": 1}}},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "ping"},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}},
    {"type": "content_block_stop", "index": 0},
    {"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "remember", "input": {}}},
    {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"text\": \"tea"}},
    {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "\"}"}},
    {"type": "content_block_stop", "index": 1},
    {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None}, "usage": {"output_tokens": 15}},
    {"type": "message_stop"},
]
put("provider_events", "anthropic", "\n".join(json.dumps(event) for event in anthropic))
put("provider_events", "anthropic-error", json.dumps({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}))
openai = [
    {"id": "c1", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hi"}, "finish_reason": None}]},
    {"id": "c1", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "remember", "arguments": "{\"te"}}]}}]},
    {"id": "c1", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "xt\":\"x\"}"}}]}, "finish_reason": "tool_calls"}]},
    {"id": "c1", "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 3, "prompt_tokens_details": {"cached_tokens": 4}}},
]
put("provider_events", "openai", "\n".join([json.dumps(chunk) for chunk in openai] + ["[DONE]"]))

# The handshake's decision: every recorded `connect`'s params, from a remote address (flag byte
# 0), a direct loopback one (1) and with the page's cookie (2); and one with the fuzz gateway's
# own token (`molt::fuzzing::FUZZ_TOKEN`), so the paths past the token check are reached.
if os.path.exists(frames_fixture):
    fixture = json.load(open(frames_fixture))
    for session in fixture["sessions"]:
        for index, frame in enumerate(session.get("frames", [])):
            raw = frame.get("frame")
            if frame.get("dir") != "c2s" or not isinstance(raw, dict) or raw.get("method") != "connect":
                continue
            params = json.dumps(raw.get("params", {}), separators=(",", ":")).encode()
            for flags in (0, 1, 2):
                put("authorize", f"{session['name']}-{index}-{flags}", bytes([flags]) + params)
            if isinstance(raw.get("params", {}).get("auth"), dict) and "token" in raw["params"]["auth"]:
                own = dict(raw["params"], auth={"token": "fuzz-gateway-token"})
                put("authorize", f"{session['name']}-{index}-own-token", bytes([0]) + json.dumps(own, separators=(",", ":")).encode())
