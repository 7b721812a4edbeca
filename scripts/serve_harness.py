#!/usr/bin/env python3
"""Load and fault harness for `sbert serve` (a measurement, not a CI gate; --smoke is the short
run CI does). Starts build/sbert serve on 127.0.0.1 and:

  probes   one hostile client at a time, with the server's RSS before and after: a header flood
           (50,000 lines of 8 KB on one connection), a 1 GB chunked body with --max-body-bytes
           2000000, 64 slow-body clients (1 byte / 2 s) with /health latency meanwhile, 15,000
           distinct 404 paths then the size of /metrics, a 2 MB /tokenize, 2/3/10 pipelined
           requests, 32 texts x 50,000 labels to /zero-shot (with --nli);
  load     wrk at 1/64/256 connections for SECONDS each while slow-loris clients, header flooders
           and pipelining clients run beside it: requests, error classes, p50/p99, peak RSS;
  sigterm  200 clients on fresh and kept-alive connections, SIGTERM mid-run (RUNS times): every
           request must end as 200, 503 or a refused connect, never a reset or a silent close.

Prints one JSON object; exits 1 when a fault check fails (431, 413, 408, pipelined answers, no
lost request at SIGTERM). wrk is optional (apt-get install wrk): without it the load phase uses
Python clients and says so.

Usage: python3 scripts/serve_harness.py [--model DIR] [--nli DIR] [--seconds 30] [--runs 3] [--smoke]
                                        [--binary build/sbert] [--probes-only]
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("SBERT_SHARED", os.path.join(ROOT, "..", "shared"))
BINARY = os.path.join(ROOT, "build", "sbert")
LIVE = []  # servers to stop if the harness fails


def rss_kb(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class Server:
    def __init__(self, args, extra=()):
        self.dir = tempfile.mkdtemp(prefix="sbert-harness-")
        port_file = os.path.join(self.dir, "port")
        cmd = [args.binary, "serve", "-q", "--model", args.model, "--port", "0", "--port-file", port_file,
               "--request-timeout", "8", "--max-body-bytes", "2000000", "--max-concurrent-requests", "1024",
               "--http-threads", "64", *extra]
        if args.nli:
            cmd += ["--nli", args.nli]
        self.log = open(os.path.join(self.dir, "stderr.log"), "w+")
        self.proc = subprocess.Popen(cmd, stderr=self.log)
        for _ in range(600):
            if os.path.exists(port_file) and open(port_file).read().strip():
                break
            if self.proc.poll() is not None:
                raise SystemExit("harness: the server exited: " + open(self.log.name).read())
            time.sleep(0.1)
        self.port = int(open(port_file).read())
        LIVE.append(self)

    def rss(self):
        return rss_kb(self.proc.pid)

    def peak(self):
        return rss_kb(self.proc.pid, "VmHWM")

    def stop(self):
        if self in LIVE:
            LIVE.remove(self)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
        return self.proc.returncode


def connect(port, timeout=10):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_responses(sock, want, deadline_s=15):
    """Reads until `want` whole responses came or the server closed; returns (statuses, closed):
    closed when the server closed the connection or said "Connection: close"."""
    buf, statuses, closed = b"", [], False
    end = time.time() + deadline_s
    while len(statuses) < want and time.time() < end:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            closed = True
            break
        if not chunk:
            closed = True
            break
        buf += chunk
        while True:
            head_end = buf.find(b"\r\n\r\n")
            if head_end < 0 or not buf.startswith(b"HTTP/1.1 "):
                break
            head = buf[:head_end].decode("latin-1").lower()
            length = 0
            for line in head.split("\r\n"):
                if line.startswith("content-length:"):
                    length = int(line.split(":")[1])
            if len(buf) < head_end + 4 + length:
                break
            statuses.append(int(buf[9:12]))
            if "\r\nconnection: close" in head:
                closed = True  # announced: the client must not send more on it
            buf = buf[head_end + 4 + length:]
    return statuses, closed


def post(path, body, extra=""):
    b = body.encode() if isinstance(body, str) else body
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(b)}\r\n"
            f"{extra}\r\n").encode() + b


def health_latency(port):
    t0 = time.time()
    try:
        s = connect(port, timeout=30)
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        st, _ = read_responses(s, 1, 30)
        s.close()
        return (st[0] if st else None), round(time.time() - t0, 3)
    except OSError as e:
        return str(e), round(time.time() - t0, 3)


# ---- probes ----

def header_flood(port, lines, line_bytes):
    """One GET /health with `lines` header lines, reading while sending (the server answers at
    its limit and drops what follows only up to a point)."""
    s = connect(port)
    sent, reply = 0, b""
    line = b"X-Flood: " + b"v" * (line_bytes - 11) + b"\r\n"
    block = line * 64
    try:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        for _ in range(lines // 64):
            s.sendall(block)
            sent += len(block)
            try:
                reply += s.recv(4096, socket.MSG_DONTWAIT)
            except BlockingIOError:
                pass
            if b"\r\n\r\n" in reply:
                break
        else:
            s.sendall(b"\r\n")
    except OSError:
        pass
    if b"\r\n\r\n" not in reply:
        try:
            s.settimeout(10)
            while b"\r\n\r\n" not in reply:
                c = s.recv(4096)
                if not c:
                    break
                reply += c
        except OSError:
            pass
    s.close()
    return {"status": int(reply[9:12]) if reply.startswith(b"HTTP/1.1 ") else None, "bytes_sent_before_answer": sent}


def chunked_body(port, total):
    s = connect(port)
    s.sendall(b"POST /embed HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"10000\r\n" + b"a" * 0x10000 + b"\r\n"
    sent = 0
    s.setblocking(False)
    reply = b""
    try:
        while sent < total:
            try:
                s.sendall(chunk)
            except BlockingIOError:
                time.sleep(0.001)
            sent += 0x10000
            try:
                reply += s.recv(4096)
                if b"\r\n\r\n" in reply:
                    break
            except BlockingIOError:
                pass
    except OSError:
        pass
    s.setblocking(True)
    s.settimeout(5)
    try:
        while b"\r\n\r\n" not in reply:
            c = s.recv(4096)
            if not c:
                break
            reply += c
    except OSError:
        pass
    s.close()
    return {"status": int(reply[9:12]) if reply.startswith(b"HTTP/1.1 ") else None, "bytes_sent_before_answer": sent}


def slow_bodies(port, clients, seconds, gap):
    results = []
    lock = threading.Lock()

    def one():
        t0 = time.time()
        outcome = "still connected"
        try:
            s = connect(port)
            s.settimeout(gap)
            s.sendall(b"POST /embed HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
            while time.time() - t0 < seconds:
                s.send(b"a")
                try:
                    data = s.recv(4096)
                    outcome = data[:12].decode("latin-1") if data else "closed"
                    break
                except socket.timeout:
                    pass
            s.close()
        except OSError as e:
            outcome = "error " + type(e).__name__
        with lock:
            results.append((outcome, round(time.time() - t0, 1)))

    threads = [threading.Thread(target=one) for _ in range(clients)]
    for t in threads:
        t.start()
    time.sleep(min(3, seconds / 2))
    h = health_latency(port)
    for t in threads:
        t.join()
    outcomes = {}
    for o, _ in results:
        outcomes[o] = outcomes.get(o, 0) + 1
    return {"clients": clients, "outcomes": outcomes, "longest_connected_s": max(t for _, t in results),
            "health_meanwhile": {"status": h[0], "seconds": h[1]}}


def metrics_paths(port, n):
    """n distinct unknown paths (each with an encoded newline and a forged series), then /metrics."""
    for j in range(n):
        try:
            s = connect(port)
            s.sendall(f"GET /nope-{j}%0Afake_metric%201 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            read_responses(s, 1, 5)
            s.close()
        except OSError:
            pass
    s = connect(port)
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        c = s.recv(65536)
        if not c:
            break
        data += c
    s.close()
    body = data.split(b"\r\n\r\n", 1)[-1]
    forged = any(line.startswith(b"fake_metric") for line in body.split(b"\n"))
    return {"distinct_404_paths": n, "metrics_bytes": len(body), "forged_line": forged}


def timed_post(port, path, body):
    t0 = time.time()
    s = connect(port, timeout=300)
    s.sendall(post(path, body, "Connection: close\r\n"))
    st, _ = read_responses(s, 1, 300)
    s.close()
    return {"status": st[0] if st else None, "seconds": round(time.time() - t0, 2)}


def pipelined(port, n):
    s = connect(port)
    reqs = b"".join(post("/embed", json.dumps({"inputs": f"text {i}"})) for i in range(n - 1))
    s.sendall(reqs + b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    st, _ = read_responses(s, n, 10)
    s.close()
    return len(st)


# ---- load ----

def background_attackers(port, stop, counts):
    def loris():
        while not stop.is_set():
            try:
                s = connect(port)
                s.settimeout(1)
                s.sendall(b"POST /embed HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
                while not stop.is_set():
                    s.send(b"a")
                    try:
                        if not s.recv(4096):
                            break
                        break
                    except socket.timeout:
                        pass
                s.close()
                counts["loris_cut"] += 1
            except OSError:
                time.sleep(0.1)

    def flood():
        while not stop.is_set():
            r = header_flood(port, 2000, 8192)
            counts["flood_" + str(r["status"])] = counts.get("flood_" + str(r["status"]), 0) + 1

    def pipe():
        while not stop.is_set():
            try:
                got = pipelined(port, 5)
                counts["pipelined_ok" if got == 5 else "pipelined_short"] += 1
            except OSError:
                counts["pipelined_error"] += 1

    threads = [threading.Thread(target=f, daemon=True) for f in [loris] * 32 + [flood] * 2 + [pipe] * 4]
    for t in threads:
        t.start()
    return threads


def wrk_run(port, conns, seconds, tmp):
    lua = os.path.join(tmp, "post.lua")
    with open(lua, "w") as f:
        f.write('wrk.method = "POST"\nwrk.body = \'{"inputs": "A man is playing a guitar."}\'\n'
                'wrk.headers["Content-Type"] = "application/json"\n')
    out = subprocess.run(["wrk", "-t", str(min(conns, 4)), "-c", str(conns), "-d", f"{seconds}s", "--latency",
                          "-s", lua, f"http://127.0.0.1:{port}/embed"], capture_output=True, text=True).stdout
    r = {"connections": conns}
    for line in out.splitlines():
        w = line.split()
        if "requests in" in line:
            r["requests"] = int(w[0])
        elif line.strip().startswith("50%"):
            r["p50"] = w[1]
        elif line.strip().startswith("99%"):
            r["p99"] = w[1]
        elif "Non-2xx" in line:
            r["non_2xx"] = int(w[-1])
        elif "Socket errors" in line:
            r["socket_errors"] = line.split(":", 1)[1].strip()
        elif line.startswith("Requests/sec"):
            r["requests_per_s"] = float(w[1])
    return r


def python_load(port, conns, seconds):
    lat, errors = [], {}
    lock = threading.Lock()
    end = time.time() + seconds
    body = post("/embed", json.dumps({"inputs": "A man is playing a guitar."}))

    def client():
        s = None
        while time.time() < end:
            try:
                if s is None:
                    s = connect(port)
                t0 = time.time()
                s.sendall(body)
                st, closed = read_responses(s, 1, 30)
                with lock:
                    if st:
                        lat.append(time.time() - t0)
                        if st[0] != 200:
                            errors[str(st[0])] = errors.get(str(st[0]), 0) + 1
                    else:
                        errors["no_answer"] = errors.get("no_answer", 0) + 1
                if closed or not st:
                    s.close()
                    s = None
            except OSError as e:
                with lock:
                    errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1
                s = None

    threads = [threading.Thread(target=client) for _ in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lat.sort()
    q = lambda p: f"{lat[min(len(lat) - 1, int(p * len(lat)))] * 1000:.2f}ms" if lat else None
    return {"connections": conns, "requests": len(lat), "errors": errors, "p50": q(0.5), "p99": q(0.99),
            "client": "python (wrk not installed)"}


# ---- SIGTERM ----

def sigterm_run(args, clients):
    server = Server(args)
    port = server.port
    stop = threading.Event()
    counts = {"200": 0, "503": 0, "refused": 0, "lost": 0, "other": 0}
    lock = threading.Lock()
    body = post("/embed", json.dumps({"inputs": ["A man is playing a guitar.", "A dog runs."]}))

    def client(keep):
        while not stop.is_set():
            try:
                s = connect(port, timeout=15)
            except OSError:
                with lock:
                    counts["refused"] += 1
                time.sleep(0.01)
                continue
            for k in range(20 if keep else 1):
                why = "closed without an answer"
                try:
                    s.sendall(body)
                    st, closed = read_responses(s, 1, 15)
                except OSError as e:
                    st, closed, why = [], True, type(e).__name__
                with lock:
                    if not st:
                        counts["lost"] += 1
                        kind = f"{why}, request {'1' if k == 0 else '2+'} of a {'kept-alive' if keep else 'fresh'} connection"
                        counts.setdefault("lost_by_kind", {})
                        counts["lost_by_kind"][kind] = counts["lost_by_kind"].get(kind, 0) + 1
                    elif str(st[0]) in counts:
                        counts[str(st[0])] += 1
                    else:
                        counts["other"] += 1
                if not st or closed or stop.is_set():
                    break
            s.close()

    threads = [threading.Thread(target=client, args=(i % 2 == 0,)) for i in range(clients)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    rc = server.stop()
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join()
    counts["exit_status"] = rc
    return counts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(SHARED, "fixtures/models/bert-wordpiece-mean-norm"))
    ap.add_argument("--nli", default=os.path.join(SHARED, "fixtures/models/nli-bert"))
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--smoke", action="store_true", help="small floods, 2 s of load, one SIGTERM run")
    ap.add_argument("--binary", default=BINARY, help="the sbert binary (e.g. an older build to compare)")
    ap.add_argument("--probes-only", action="store_true", help="skip the load and SIGTERM phases")
    args = ap.parse_args()
    if not os.path.isdir(args.nli):
        args.nli = None
    if not os.path.exists(args.binary) or not os.path.isdir(args.model):
        print(f"serve_harness: needs {args.binary} and the model {args.model}; skipped", file=sys.stderr)
        return 0
    smoke = args.smoke
    if smoke:
        args.seconds, args.runs = 2, 1
    report, failures = {"smoke": smoke}, []
    tmp = tempfile.mkdtemp(prefix="sbert-harness-")

    server = Server(args)
    port = server.port
    probes = {}
    r0 = server.rss()
    lines = 2000 if smoke else 50000
    probes["header_flood"] = dict(header_flood(port, lines, 8192), lines=lines, line_bytes=8192,
                                  rss_kb_before=r0, rss_kb_after=server.rss())
    if probes["header_flood"]["status"] != 431:
        failures.append("header flood not 431")
    r0 = server.rss()
    total = (64 << 20) if smoke else (1 << 30)
    probes["chunked_body"] = dict(chunked_body(port, total), body_bytes=total, max_body_bytes=2000000,
                                  rss_kb_before=r0, rss_kb_after=server.rss())
    if probes["chunked_body"]["status"] != 413:
        failures.append("chunked body not 413")
    r0 = server.rss()
    probes["slow_bodies"] = dict(slow_bodies(port, 8 if smoke else 64, 12 if smoke else 40, 2.0),
                                 request_timeout_s=8, rss_kb_before=r0, rss_kb_after=server.rss())
    if probes["slow_bodies"]["outcomes"].get("HTTP/1.1 408", 0) != probes["slow_bodies"]["clients"]:
        failures.append("a slow body was not answered 408")
    if probes["slow_bodies"]["health_meanwhile"]["status"] != 200:
        failures.append("/health did not answer beside slow bodies")
    probes["metrics_after_404s"] = metrics_paths(port, 1500 if smoke else 15000)
    if probes["metrics_after_404s"]["forged_line"]:
        failures.append("a forged /metrics line")
    words = " ".join(["word"] * (20000 if smoke else 350000))  # ~100 KB / ~1.9 MB
    r0 = server.rss()
    probes["tokenize_big"] = dict(timed_post(port, "/tokenize", json.dumps({"inputs": words})),
                                  body_bytes=len(words) + 14, rss_kb_before=r0, rss_kb_after=server.rss())
    if probes["tokenize_big"]["status"] != 413:
        failures.append("/tokenize past the token budget not 413")
    if args.nli:
        labels = [f"label {i}" for i in range(2000 if smoke else 50000)]
        probes["zero_shot_32x_labels"] = dict(
            timed_post(port, "/zero-shot", json.dumps({"inputs": ["a text"] * 32, "labels": labels})),
            labels=len(labels))
        if probes["zero_shot_32x_labels"]["status"] != 413:
            failures.append("/zero-shot past the pairs limit not 413")
    probes["pipelined_answers"] = {str(n): pipelined(port, n) for n in (2, 3, 10)}
    if any(int(k) != v for k, v in probes["pipelined_answers"].items()):
        failures.append("pipelined requests lost")
    probes["peak_rss_kb"] = server.peak()
    report["probes"] = probes
    server.stop()
    if args.probes_only:
        report["failures"] = failures
        print(json.dumps(report, indent=1))
        return 1 if failures else 0

    # Load beside attackers.
    server = Server(args)
    stop = threading.Event()
    from collections import defaultdict
    counts = defaultdict(int)
    attackers = background_attackers(server.port, stop, counts)
    load = []
    for c in (1, 64, 256):
        load.append(wrk_run(server.port, c, args.seconds, tmp) if shutil.which("wrk")
                    else python_load(server.port, c, args.seconds))
    stop.set()
    for t in attackers:
        t.join(timeout=15)
    report["load"] = {"runs": load, "attackers": dict(counts), "server_peak_rss_kb": server.peak(),
                      "health_after": health_latency(server.port)}
    server.stop()

    runs = [sigterm_run(args, 40 if smoke else 200) for _ in range(args.runs)]
    report["sigterm"] = runs
    if any(r["lost"] or r["other"] or r["exit_status"] != 0 for r in runs):
        failures.append("a request was lost or the exit status was not 0 at SIGTERM")
    report["failures"] = failures
    shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(report, indent=1))
    return 1 if failures else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        for srv in list(LIVE):
            srv.stop()
