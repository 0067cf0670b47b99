#!/usr/bin/env python3
"""Follows workflow executions live over Baton's /ws/executions WebSocket.

Usage: follow-executions.py BASE_URL TOKEN EXECUTION_ID [EXECUTION_ID...]

Prints each message the orchestrator sends (one JSON object per line) until every
execution named has ended, the server closes, or Ctrl-C. Python's standard library
only (a minimal RFC 6455 client: text frames, ping/pong, close), so it runs anywhere
Python 3 does.
"""

import base64
import json
import os
import socket
import struct
import sys
import urllib.parse

ENDED = {"completed", "failed", "cancelled"}


def connect(base_url, token):
    url = urllib.parse.urlparse(base_url)
    if url.scheme != "http":
        sys.exit("only http:// orchestrators (no TLS in this small client)")
    host, port = url.hostname, url.port or 80
    sock = socket.create_connection((host, port))
    key = base64.b64encode(os.urandom(16)).decode()
    path = "/ws/executions?token=" + urllib.parse.quote(token)
    sock.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        if not chunk:
            sys.exit("the orchestrator closed the connection during the handshake")
        head += chunk
    status = head.split(b"\r\n", 1)[0].decode()
    if " 101 " not in status:
        sys.exit(f"upgrade refused: {status}")
    return sock


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("connection closed")
        data += chunk
    return data


def send(sock, opcode, payload):
    mask = os.urandom(4)
    header = bytes([0x80 | opcode])
    n = len(payload)
    if n < 126:
        header += bytes([0x80 | n])
    elif n < 65536:
        header += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        header += bytes([0x80 | 127]) + struct.pack(">Q", n)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    sock.sendall(header + mask + masked)


def frames(sock):
    """Yields (opcode, payload) of each frame the server sends."""
    while True:
        b1, b2 = recv_exact(sock, 2)
        opcode, n = b1 & 0x0F, b2 & 0x7F
        if n == 126:
            n = struct.unpack(">H", recv_exact(sock, 2))[0]
        elif n == 127:
            n = struct.unpack(">Q", recv_exact(sock, 8))[0]
        yield opcode, recv_exact(sock, n)


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__.split("\n\n")[1])
    base_url, token, ids = sys.argv[1], sys.argv[2], sys.argv[3:]
    sock = connect(base_url, token)
    send(sock, 0x1, json.dumps({"type": "subscribe", "execution_ids": ids}).encode())
    open_ids = set(ids)
    for opcode, payload in frames(sock):
        if opcode == 0x8:
            code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else None
            print(f"closed by the server: {code} {payload[2:].decode(errors='replace')}")
            return 1 if code == 4001 else 0
        if opcode == 0x9:
            send(sock, 0xA, payload)
            continue
        if opcode != 0x1:
            continue
        msg = json.loads(payload)
        print(json.dumps(msg), flush=True)
        if msg.get("type") == "error" and msg.get("execution_id") in open_ids:
            open_ids.discard(msg["execution_id"])
        if msg.get("type") == "execution_status" and msg.get("status") in ENDED:
            open_ids.discard(msg.get("execution_id"))
        if not open_ids:
            send(sock, 0x8, struct.pack(">H", 1000))
            return 0
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
