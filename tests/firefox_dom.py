#!/usr/bin/env python3
"""firefox_dom.py FIREFOX URL [WAIT_S] - the rendered DOM of URL in headless
Firefox, on stdout: what `chromium --headless --dump-dom URL` prints, for the
browser tests (tests/explore_chromium.sh, tests/view_chromium.sh) under
Firefox. Firefox has no --dump-dom; this drives it over WebDriver BiDi, which
Firefox serves itself (--remote-debugging-port), through a minimal WebSocket
client (RFC 6455, standard library only): open a session, navigate to URL
and wait for the load, let the page's script run until <body data-ready> is
set (or WAIT_S seconds pass), then read document.documentElement.outerHTML.
A fresh profile in a temporary folder; Firefox is ended when done. Exits 1
with one line on stderr when Firefox does not answer."""
import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

FIREFOX, URL = sys.argv[1:3]
WAIT = float(sys.argv[3]) if len(sys.argv) > 3 else 20.0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class WebSocket:
    def __init__(self, port, path):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n" % (path, port, key)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise OSError("the handshake was cut short")
            head += chunk
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise OSError("no WebSocket upgrade: %s" % head.split(b"\r\n", 1)[0].decode(errors="replace"))
        self.buf = head.split(b"\r\n\r\n", 1)[1]

    def send(self, text):
        data = text.encode()
        mask = os.urandom(4)
        n = len(data)
        head = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else
                                bytes([0x80 | 126]) + struct.pack(">H", n) if n < 65536 else
                                bytes([0x80 | 127]) + struct.pack(">Q", n))
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _take(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise OSError("the connection closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self):
        msg = b""
        while True:
            b0, b1 = self._take(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._take(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._take(8))[0]
            payload = self._take(n)  # a server never masks
            op = b0 & 0x0F
            if op == 8:
                raise OSError("the browser closed the connection")
            if op in (0, 1, 2):
                msg += payload
                if b0 & 0x80:
                    return msg.decode()


class Bidi:
    def __init__(self, ws):
        self.ws, self.next = ws, 0

    def call(self, method, params):
        self.next += 1
        self.ws.send(json.dumps({"id": self.next, "method": method, "params": params}))
        while True:
            m = json.loads(self.ws.recv())
            if m.get("id") == self.next:
                if m.get("type") == "error" or "error" in m:
                    raise OSError("%s: %s %s" % (method, m.get("error"), m.get("message", "")))
                return m["result"]


def main():
    profile = tempfile.mkdtemp(prefix="specrej_firefox_")
    port = free_port()
    proc = subprocess.Popen([FIREFOX, "--headless", "--no-remote", "--profile", profile,
                             "--remote-debugging-port", str(port), "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while True:
            try:
                ws = WebSocket(port, "/session")
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise OSError("Firefox did not open its WebDriver BiDi port")
                time.sleep(0.3)
        b = Bidi(ws)
        b.call("session.new", {"capabilities": {}})
        ctx = b.call("browsingContext.getTree", {})["contexts"][0]["context"]
        b.call("browsingContext.navigate", {"context": ctx, "url": URL, "wait": "complete"})
        target = {"context": ctx}
        end = time.time() + WAIT
        while time.time() < end:
            r = b.call("script.evaluate", {"expression": "document.body && document.body.hasAttribute('data-ready')",
                                           "target": target, "awaitPromise": False})
            if r.get("result", {}).get("value") is True:
                break
            time.sleep(0.2)
        r = b.call("script.evaluate", {"expression": "document.documentElement.outerHTML",
                                       "target": target, "awaitPromise": False})
        sys.stdout.write(r["result"]["value"] + "\n")
        try:
            b.call("session.end", {})
        except OSError:
            pass
        return 0
    except OSError as e:
        print("firefox_dom: %s: %s" % (URL, e), file=sys.stderr)
        return 1
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(profile, ignore_errors=True)


sys.exit(main())
