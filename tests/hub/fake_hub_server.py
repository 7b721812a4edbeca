#!/usr/bin/env python3
"""A stand-in for the Hugging Face hub, for tests (standard library only, 127.0.0.1 only).

Serves ROOT laid out as ROOT/{org}/{name}/resolve/{revision}/{file}. A revision folder may be a
symlink to a folder named after a 40-hex commit (e.g. main -> <commit>); that name is sent as
X-Repo-Commit. Like the hub:
  - LFS files (*.safetensors, *.bin, *.model, *.pt, *.onnx) answer /resolve/ with a 302 to an
    absolute /cdn/<sha256> URL, carrying X-Linked-Etag (sha256), X-Linked-Size and X-Repo-Commit;
  - other files answer 200 with ETag = git blob sha1;
  - 404s carry X-Error-Code RepoNotFound / RevisionNotFound / EntryNotFound;
  - GET /api/models/{org}/{name}/revision/{rev} lists the files (unless --no-api);
  - Range requests get 206 (or 416).
Fault injection: --corrupt FILE serves damaged bytes under the true hash; --cut FILE:BYTES[:TIMES]
closes the connection after BYTES bytes of the body, for the first TIMES downloads of FILE;
--require-token TOKEN answers 401 without `Authorization: Bearer TOKEN`.
Each request is appended to --log as a JSON line {method, path, range, auth}. The chosen port is
written to --port-file once the server listens.
"""
import argparse
import hashlib
import json
import os
import re
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LFS_EXT = (".safetensors", ".bin", ".model", ".pt", ".onnx")
COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--root", required=True)
    p.add_argument("--port-file", required=True)
    p.add_argument("--log")
    p.add_argument("--corrupt", action="append", default=[])
    p.add_argument("--cut", action="append", default=[])
    p.add_argument("--require-token")
    p.add_argument("--no-api", action="store_true")
    return p.parse_args()


ARGS = parse_args()
LOCK = threading.Lock()
CUTS = {}  # relative file path -> [bytes, times left]
for spec in ARGS.cut:
    parts = spec.split(":")
    CUTS[parts[0]] = [int(parts[1]), int(parts[2]) if len(parts) > 2 else 1]
SHA_TO_FILE = {}  # sha256 -> (absolute path, relative path) for the CDN route


SHA_CACHE = {}


def sha256_of(path):
    path = os.path.realpath(path)
    if path in SHA_CACHE:
        return SHA_CACHE[path]
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    SHA_CACHE[path] = h.hexdigest()
    return SHA_CACHE[path]


def git_blob_sha1(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def is_lfs(rel):
    return rel.endswith(LFS_EXT)


def index_root():
    for dirpath, _, files in os.walk(ARGS.root, followlinks=True):
        for f in files:
            full = os.path.join(dirpath, f)
            parts = os.path.relpath(full, ARGS.root).split(os.sep)
            if len(parts) >= 5 and parts[2] == "resolve" and is_lfs(f):
                SHA_TO_FILE[sha256_of(full)] = (full, "/".join(parts[4:]))


def content_of(full, rel):
    with open(full, "rb") as f:
        data = f.read()
    if rel in ARGS.corrupt and data:
        mid = len(data) // 2
        data = data[:mid] + bytes([data[mid] ^ 0xFF]) + data[mid + 1:]
    return data


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def record(self):
        if not ARGS.log:
            return
        entry = {
            "method": self.command,
            "path": self.path,
            "range": self.headers.get("Range"),
            "auth": self.headers.get("Authorization") is not None,
        }
        with LOCK, open(ARGS.log, "a") as f:
            f.write(json.dumps(entry) + "\n")

    def reply(self, status, headers=None, body=b""):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def error(self, status, code, message):
        self.reply(status, {"X-Error-Code": code, "X-Error-Message": message,
                            "Content-Type": "text/plain"}, message.encode())

    def authorized(self):
        if not ARGS.require_token:
            return True
        if self.headers.get("Authorization") == "Bearer " + ARGS.require_token:
            return True
        self.error(401, "RepoNotFound", "Invalid credentials in Authorization header")
        return False

    def send_content(self, data, rel, headers):
        """Body with Range support and the --cut fault."""
        start, status = 0, 200
        rng = self.headers.get("Range")
        if rng:
            m = re.match(r"bytes=(\d+)-$", rng)
            if not m or int(m.group(1)) >= len(data):
                self.reply(416, {"Content-Range": "bytes */%d" % len(data)})
                return
            start, status = int(m.group(1)), 206
            headers["Content-Range"] = "bytes %d-%d/%d" % (start, len(data) - 1, len(data))
        body = data[start:]
        headers["Accept-Ranges"] = "bytes"
        cut = None
        if self.command == "GET":
            with LOCK:
                c = CUTS.get(rel)
                if c and c[1] > 0:
                    c[1] -= 1
                    cut = c[0]
        if cut is None:
            self.reply(status, headers, body)
            return
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[:cut])
        self.wfile.flush()
        self.close_connection = True

    def handle_request(self):
        self.record()
        path = urllib.parse.urlparse(self.path).path
        parts = [urllib.parse.unquote(p) for p in path.split("/")[1:]]
        if len(parts) == 2 and parts[0] == "cdn":
            entry = SHA_TO_FILE.get(parts[1])
            if not entry:
                return self.error(404, "EntryNotFound", "no such object")
            data = content_of(entry[0], entry[1])
            return self.send_content(data, entry[1], {"ETag": '"cdn-%s"' % parts[1][:16]})
        if len(parts) == 6 and parts[:2] == ["api", "models"] and parts[4] == "revision":
            if ARGS.no_api:
                return self.error(404, "", "Not Found")
            if not self.authorized():
                return
            return self.api_listing(parts[2], parts[3], parts[5])
        if len(parts) >= 5 and parts[2] == "resolve":
            if not self.authorized():
                return
            return self.resolve(parts[0], parts[1], parts[3], "/".join(parts[4:]))
        self.error(404, "", "Not Found")

    def revision_dir(self, org, name, rev):
        repo = os.path.join(ARGS.root, org, name, "resolve")
        if not os.path.isdir(repo):
            self.error(404, "RepoNotFound", "Repository not found")
            return None, None
        rev_dir = os.path.join(repo, rev.replace("/", "%2F"))
        if ".." in rev or not os.path.isdir(rev_dir):
            self.error(404, "RevisionNotFound", "Invalid rev id: " + rev)
            return None, None
        commit = os.path.basename(os.path.realpath(rev_dir))
        if not COMMIT_RE.match(commit):
            commit = hashlib.sha1(("%s/%s@%s" % (org, name, rev)).encode()).hexdigest()
        return rev_dir, commit

    def api_listing(self, org, name, rev):
        rev_dir, commit = self.revision_dir(org, name, rev)
        if rev_dir is None:
            return
        files = []
        for dirpath, _, names in os.walk(rev_dir, followlinks=True):
            for n in names:
                files.append(os.path.relpath(os.path.join(dirpath, n), rev_dir).replace(os.sep, "/"))
        body = json.dumps({"id": org + "/" + name, "sha": commit,
                           "siblings": [{"rfilename": f} for f in sorted(files)]}).encode()
        self.reply(200, {"Content-Type": "application/json"}, body)

    def resolve(self, org, name, rev, rel):
        rev_dir, commit = self.revision_dir(org, name, rev)
        if rev_dir is None:
            return
        full = os.path.join(rev_dir, rel)
        if ".." in rel.split("/") or not os.path.isfile(full):
            return self.error(404, "EntryNotFound", "Entry not found")
        if is_lfs(rel):
            sha = sha256_of(full)  # the true hash, also when serving corrupted bytes
            # Another host name, as the real CDN is: the token must not follow the redirect.
            host = "localhost:%d" % self.server.server_address[1]
            self.reply(302, {
                "Location": "http://%s/cdn/%s" % (host, sha),
                "X-Repo-Commit": commit,
                "X-Linked-Etag": '"%s"' % sha,
                "X-Linked-Size": str(os.path.getsize(full)),
                "ETag": 'W/"pointer-%s"' % sha[:8],
            })
            return
        data = content_of(full, rel)
        with open(full, "rb") as f:
            etag = git_blob_sha1(f.read())
        self.send_content(data, rel, {"ETag": '"%s"' % etag, "X-Repo-Commit": commit})

    do_GET = handle_request
    do_HEAD = handle_request


def main():
    index_root()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    tmp = ARGS.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(tmp, ARGS.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
