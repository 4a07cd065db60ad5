#!/usr/bin/python3
"""Fake Hugging Face Hub (API + resolve + CDN) for aimfs tests.

Run:
    /usr/bin/python3 tests/server/fakehub.py --root DIR [--host 127.0.0.1] [--port 0]
        [--port-file FILE] [--log FILE] [--cdn-base URL] [--token TOKEN ...]
        [--gated org/name ...] [--page-size N] [--lfs-threshold BYTES] [--verbose]

It serves repositories laid out on disk as ROOT/<org>/<name>/<revname>/<files>,
where every <revname> directory is a branch.  The commit sha of a revision is
sha1("<org>/<name>@<revname>") in hex; a revision may be addressed by branch
name or by that 40-hex commit.  Files are read from disk per request; hashes
(git blob sha1, sha256 for LFS files) are computed lazily and cached by
(path, size, mtime).

Endpoints (the same shapes as the real Hub):
  GET  /api/models/{org}/{name}[/revision/{rev}][?blobs=true]  model info
  GET  /api/models/{org}/{name}/tree/{rev}[/{subpath}][?recursive=true&cursor=..]
  HEAD|GET /{org}/{name}/resolve/{rev}/{path}   non-LFS: file (200/206);
                                                LFS: 302 to the CDN URL
  HEAD|GET /cdn/{sha256}                        LFS blob by sha256 (200/206/416);
                                                400 if an Authorization header
                                                is present (token leak check)
Test control (never faulted, never counted in /_stats):
  POST /_fault {"kind": K, "count": N, "match": "path substring"}  queue faults
  POST /_fault {"kind": "clear"}                                   drop them all
  GET  /_fault                                                     list the queue
  GET  /_stats  -> {"requests": n, "bytes": total body bytes}
  POST /_listing {"repo": "org/name", "body": "raw"}   the tree endpoint of
                 that repo answers exactly "raw" (hostile listings); body
                 null restores it

Fault kinds: 500 502 503 429 reset short full200 stall expire badrange (see
FAULT_KINDS below for exactly when each one applies).

Errors: unknown repo -> 401 RepoNotFound for anonymous callers, 404
RepoNotFound when an Authorization header was sent (as the real Hub does);
unknown revision -> 404 RevisionNotFound; unknown file -> 404 EntryNotFound;
gated repo -> 401 GatedRepo without Authorization, 403 with a wrong token
(any --token given opens every gated repo).
LFS "pointerSize" is the size of the real git-lfs pointer text (132..135
depending on the number of digits of the size, 134 for 9-digit sizes).

Request log (--log): one JSON object per line, flushed per line:
  {"t": 1700000000.123, "method": "GET", "path": "/cdn/<sha>", "status": 206,
   "range": [start, end_inclusive] | null, "bytes": <body bytes sent>,
   "auth": <Authorization header present>, "token": N[, "fault": "<kind>"]}
"token" is which --token the request carried (1 for the first given), 0
for none or an unknown one.
The query string and the Authorization value are never logged.

Standard library only; meant to be run with Debian's /usr/bin/python3.
"""

import argparse
import base64
import datetime
import errno
import hashlib
import http.server
import json
import os
import secrets
import signal
import socket
import struct
import sys
import threading
import time
import urllib.parse

LFS_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt", ".pth", ".h5",
                ".onnx", ".msgpack", ".model")
SENDFILE_CHUNK = 8 << 20   # bytes per os.sendfile() call
COPY_CHUNK = 1 << 20       # fallback read/write chunk
STALL_SECONDS = 120

# Fault kind -> predicate(resp, path) saying whether a queued fault of that
# kind applies to this response.  A fault that does not apply stays queued
# (later requests may consume it); the first applicable one in FIFO order wins.
FAULT_KINDS = {
    "500": lambda r, p: True,
    "502": lambda r, p: True,
    "503": lambda r, p: True,
    "429": lambda r, p: True,
    "reset": lambda r, p: True,          # headers + ~half the body, then RST
    "stall": lambda r, p: True,          # headers, then silence for 120 s
    "short": lambda r, p: r.body_len() > 0,           # half the body, then FIN
    "full200": lambda r, p: r.status == 206,          # ignore the Range
    "badrange": lambda r, p: r.status == 206,         # Content-Range start +4096
    "expire": lambda r, p: p.startswith("/cdn/"),     # 403 like an expired URL
}

STOPPING = threading.Event()  # set on SIGTERM/SIGINT: stalls end early


def git_blob_sha1_header(size):
    return b"blob %d\0" % size


def lfs_pointer(sha256, size):
    """The git-lfs pointer file text the real Hub stores in git for LFS files."""
    return ("version https://git-lfs.github.com/spec/v1\n"
            "oid sha256:%s\nsize %d\n" % (sha256, size)).encode()


def git_sha1(data):
    return hashlib.sha1(git_blob_sha1_header(len(data)) + data).hexdigest()


def iso8601(ts):
    dt = datetime.datetime.fromtimestamp(ts, tz=datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (dt.microsecond // 1000)


class Hashes:
    """Lazily computed, cached file hashes keyed by (path, size, mtime_ns).

    Also keeps sha256 -> path for LFS files, used by the /cdn/ endpoint.
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.cache = {}        # (path, size, mtime_ns) -> dict
        self.key_locks = {}    # key -> Lock, so one big file is hashed once
        self.by_sha256 = {}    # sha256 -> path

    def get(self, path, st, lfs):
        """Return {"sha1": git blob sha1 or None, "sha256": or None} for a file."""
        key = (path, st.st_size, st.st_mtime_ns, lfs)
        with self.lock:
            hit = self.cache.get(key)
            if hit is not None:
                return hit
            klock = self.key_locks.setdefault(key, threading.Lock())
        with klock:
            with self.lock:
                hit = self.cache.get(key)
            if hit is not None:
                return hit
            # LFS files only need sha256; regular files only the git sha1.
            h = hashlib.sha256() if lfs else hashlib.sha1(git_blob_sha1_header(st.st_size))
            with open(path, "rb") as f:
                while True:
                    buf = f.read(COPY_CHUNK)
                    if not buf:
                        break
                    h.update(buf)
            result = {"sha256": h.hexdigest()} if lfs else {"sha1": h.hexdigest()}
            with self.lock:
                self.cache[key] = result
                self.key_locks.pop(key, None)
                if lfs:
                    self.by_sha256[result["sha256"]] = path
            return result


class Hub:
    """The repository model: lookup of repos / revisions / files on disk."""

    def __init__(self, args):
        self.root = os.path.abspath(args.root)
        self.gated = set(args.gated or [])
        self.tokens = list(args.token or [])
        self.page_size = args.page_size
        self.lfs_threshold = args.lfs_threshold
        self.cdn_base = args.cdn_base.rstrip("/") if args.cdn_base else None
        self.hashes = Hashes()
        self.scan_lock = threading.Lock()

    # -- lookup ----------------------------------------------------------

    @staticmethod
    def commit_of(repo_id, revname):
        return hashlib.sha1(("%s@%s" % (repo_id, revname)).encode()).hexdigest()

    @staticmethod
    def safe_component(c):
        return c not in ("", ".", "..") and "/" not in c and "\0" not in c

    def repo_dir(self, org, name):
        if not (self.safe_component(org) and self.safe_component(name)):
            return None
        d = os.path.join(self.root, org, name)
        return d if os.path.isdir(d) else None

    def branches(self, repo_dir):
        try:
            return sorted(e for e in os.listdir(repo_dir)
                          if os.path.isdir(os.path.join(repo_dir, e)))
        except OSError:
            return []

    def resolve_rev(self, repo_id, repo_dir, rev):
        """Map a branch name / 40-hex commit to (revname, revdir) or None.

        A ref containing '/' (e.g. refs/pr/1, sent URL-encoded as %2F) maps to
        a directory whose name is the ref percent-encoded ("refs%2Fpr%2F1");
        "refs/heads/X" is the branch X.
        """
        if rev.startswith("refs/heads/"):
            rev = rev[len("refs/heads/"):]
        names = self.branches(repo_dir)
        dirname = urllib.parse.quote(rev, safe="") if "/" in rev else rev
        if self.safe_component(dirname) and dirname in names:
            return rev, os.path.join(repo_dir, dirname)
        if len(rev) == 40 and all(c in "0123456789abcdef" for c in rev.lower()):
            for d in names:
                revname = urllib.parse.unquote(d) if "%2F" in d.upper() else d
                if self.commit_of(repo_id, revname) == rev.lower():
                    return revname, os.path.join(repo_dir, d)
        return None

    def is_lfs(self, relpath, size):
        return relpath.endswith(LFS_SUFFIXES) or size >= self.lfs_threshold

    def list_files(self, revdir):
        """All files under revdir: sorted list of (relpath, abspath, stat)."""
        out = []
        for dirpath, dirnames, filenames in os.walk(revdir):
            dirnames.sort()
            for fn in filenames:
                p = os.path.join(dirpath, fn)
                try:
                    st = os.stat(p)
                except OSError:
                    continue
                rel = os.path.relpath(p, revdir).replace(os.sep, "/")
                out.append((rel, p, st))
        out.sort(key=lambda e: e[0])
        return out

    def file_info(self, relpath, abspath, st):
        """Hub-style metadata of one file (hashes computed lazily, cached)."""
        lfs = self.is_lfs(relpath, st.st_size)
        h = self.hashes.get(abspath, st, lfs)
        info = {"path": relpath, "size": st.st_size, "lfs": lfs, "abspath": abspath}
        if lfs:
            ptr = lfs_pointer(h["sha256"], st.st_size)
            info.update(sha256=h["sha256"], oid=git_sha1(ptr), pointer_size=len(ptr))
        else:
            info.update(oid=h["sha1"])
        return info

    def find_blob(self, sha256):
        """Path of the LFS file with that sha256 (hashes every LFS file once)."""
        path = self.hashes.by_sha256.get(sha256)
        if path is None:
            with self.scan_lock:
                path = self.hashes.by_sha256.get(sha256)
                if path is None:
                    for org in sorted(os.listdir(self.root)):
                        odir = os.path.join(self.root, org)
                        if not os.path.isdir(odir):
                            continue
                        for name in sorted(os.listdir(odir)):
                            rdir = os.path.join(odir, name)
                            for b in self.branches(rdir):
                                for rel, p, st in self.list_files(os.path.join(rdir, b)):
                                    if self.is_lfs(rel, st.st_size):
                                        self.hashes.get(p, st, True)
                    path = self.hashes.by_sha256.get(sha256)
        if path is None:
            return None
        # The file may have changed since it was hashed: re-verify via the cache.
        try:
            st = os.stat(path)
        except OSError:
            return None
        if self.hashes.get(path, st, True)["sha256"] != sha256:
            return None
        return path, st


class Resp:
    """A response to be emitted: status, headers and an optional body.

    The body is either `body` (bytes) or a byte range of a file on disk
    (`file_path`, `file_offset`, `file_length`).  `rng` is the served range
    (start, end_inclusive) for 206 responses, for the log.
    """

    def __init__(self, status, headers=None, body=b"", file_path=None,
                 file_offset=0, file_length=0, rng=None, file_size=0):
        self.status = status
        self.headers = list(headers or [])
        self.body = body
        self.file_path = file_path
        self.file_offset = file_offset
        self.file_length = file_length
        self.file_size = file_size
        self.rng = rng
        self.no_fault = False  # True: never apply an injected fault

    def body_len(self):
        return self.file_length if self.file_path else len(self.body)


def token_number(hub, auth):
    """Which of hub's tokens (1-based) an Authorization header carries; 0: none."""
    if auth and auth.strip().startswith("Bearer "):
        tok = auth.strip()[7:].strip()
        for i, t in enumerate(hub.tokens):
            if t == tok:
                return i + 1
    return 0


def json_resp(status, obj, headers=None):
    body = json.dumps(obj, separators=(",", ":")).encode()  # compact, like the Hub
    return Resp(status, [("Content-Type", "application/json; charset=utf-8")]
                + list(headers or []), body)


def error_resp(status, code, message, headers=None):
    hdrs = [("X-Error-Message", message)] + list(headers or [])
    if code:
        hdrs.insert(0, ("X-Error-Code", code))
    return json_resp(status, {"error": message}, hdrs)


def parse_range(header, total):
    """Parse a single-range Range header.

    Returns None (no usable Range: serve the whole thing with 200),
    (start, end_inclusive), or "unsatisfiable" (-> 416).
    Multi-range and malformed headers are ignored, as RFC 9110 allows.
    """
    if not header:
        return None
    header = header.strip()
    if not header.startswith("bytes=") or "," in header:
        return None
    spec = header[len("bytes="):].strip()
    first, sep, last = spec.partition("-")
    first, last = first.strip(), last.strip()
    if not sep or (first and not first.isdigit()) or (last and not last.isdigit()):
        return None
    if first:
        start = int(first)
        end = int(last) if last else total - 1
        if last and end < start:
            return None  # syntactically invalid: ignore
        if start >= total:
            return "unsatisfiable"
        return start, min(end, total - 1)
    if not last:
        return None
    n = int(last)  # suffix range: the last n bytes
    if n == 0 or total == 0:
        return "unsatisfiable"
    return max(0, total - n), total - 1


def file_resp(path, size, range_header, headers, content_type="application/octet-stream"):
    """200/206/416 response for a file on disk, honouring a Range header."""
    headers = list(headers) + [("Accept-Ranges", "bytes"), ("Content-Type", content_type)]
    r = parse_range(range_header, size)
    if r == "unsatisfiable":
        return Resp(416, headers + [("Content-Range", "bytes */%d" % size)])
    if r is None:
        return Resp(200, headers, file_path=path, file_offset=0,
                    file_length=size, file_size=size)
    start, end = r
    return Resp(206, headers + [("Content-Range", "bytes %d-%d/%d" % (start, end, size))],
                file_path=path, file_offset=start, file_length=end - start + 1,
                rng=(start, end), file_size=size)


class State:
    """Shared mutable server state: fault queue, counters, request log."""

    def __init__(self, log_path):
        self.lock = threading.Lock()
        self.faults = []  # FIFO of {"kind", "remaining", "match"}
        self.listings = {}  # "org/name" -> raw tree body (hostile tests)
        self.requests = 0
        self.bytes = 0
        self.log_lock = threading.Lock()
        self.log = open(log_path, "a", buffering=1) if log_path else None

    def take_fault(self, path, resp):
        with self.lock:
            for f in self.faults:
                if f["match"] in path and FAULT_KINDS[f["kind"]](resp, path):
                    f["remaining"] -= 1
                    if f["remaining"] <= 0:
                        self.faults.remove(f)
                    return f["kind"]
        return None

    def record(self, entry, control):
        if not control:
            with self.lock:
                self.requests += 1
                self.bytes += entry["bytes"]
        if self.log:
            line = json.dumps(entry) + "\n"
            with self.log_lock:
                self.log.write(line)
                self.log.flush()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fakehub/1.0"
    # Headers and a small body go out in two writes: without TCP_NODELAY,
    # Nagle + delayed ACK add ~40 ms to every keep-alive request.
    disable_nagle_algorithm = True
    hub = None       # set in main()
    state = None
    verbose = False
    rate = 0

    # -- plumbing ----------------------------------------------------------

    def log_message(self, fmt, *args):
        if self.verbose:
            sys.stderr.write("fakehub: %s - %s\n" % (self.address_string(), fmt % args))

    def handle(self):
        try:
            super().handle()
        except OSError:
            pass  # client went away (reset, broken pipe, timeout): nothing to do

    def do_GET(self):
        self.dispatch()

    def do_HEAD(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def base_url(self):
        host = self.headers.get("Host") or "127.0.0.1:%d" % self.server.server_address[1]
        return "http://" + host

    def read_body(self):
        try:
            n = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            n = 0
        return self.rfile.read(n) if n > 0 else b""

    # -- request entry point --------------------------------------------------

    def dispatch(self):
        split = urllib.parse.urlsplit(self.path)
        path, query = split.path, split.query
        body = self.read_body()
        control = path in ("/_fault", "/_stats", "/_listing")
        try:
            if control:
                resp = self.control(path, body)
            else:
                resp = self.route(path, query)
        except ConnectionError:
            raise
        except Exception as e:  # a bug or a vanished file: report, keep serving
            if self.verbose:
                import traceback
                traceback.print_exc()
            resp = error_resp(500, None, "internal error: %s" % e)
        self.emit(resp, path, control)

    def control(self, path, body):
        st = self.state
        if path == "/_stats" and self.command in ("GET", "HEAD"):
            with st.lock:
                return json_resp(200, {"requests": st.requests, "bytes": st.bytes})
        if path == "/_fault" and self.command in ("GET", "HEAD"):
            with st.lock:
                return json_resp(200, [dict(f) for f in st.faults])
        if path == "/_fault" and self.command == "POST":
            try:
                req = json.loads(body or b"{}")
                kind = str(req.get("kind", ""))
                count = int(req.get("count", 1))
                match = str(req.get("match", ""))
            except (ValueError, AttributeError, TypeError):
                return error_resp(400, None, "bad JSON fault request")
            if kind == "clear":
                with st.lock:
                    st.faults.clear()
                return json_resp(200, {"ok": True, "queued": 0})
            if kind not in FAULT_KINDS or count < 1:
                return error_resp(400, None, "unknown fault kind %r or bad count" % kind)
            with st.lock:
                st.faults.append({"kind": kind, "remaining": count, "match": match})
                n = len(st.faults)
            return json_resp(200, {"ok": True, "queued": n})
        if path == "/_listing" and self.command == "POST":
            # {"repo": "org/name", "body": "raw text"}: the tree endpoint of
            # that repo answers 200 with exactly this body (null: normal)
            try:
                req = json.loads(body or b"{}")
                repo, raw = str(req["repo"]), req.get("body")
            except (ValueError, KeyError, TypeError):
                return error_resp(400, None, "bad JSON listing request")
            with st.lock:
                if raw is None:
                    st.listings.pop(repo, None)
                else:
                    st.listings[repo] = raw.encode("utf-8", "surrogatepass")
            return json_resp(200, {"ok": True})
        return error_resp(405, None, "method not allowed")

    # -- routing ---------------------------------------------------------------

    def route(self, path, query):
        if self.command not in ("GET", "HEAD"):
            return error_resp(405, None, "method not allowed")
        raw = path.split("/")[1:]  # keep %2F inside components
        parts = [urllib.parse.unquote(c) for c in raw]
        q = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        if parts and parts[0] == "cdn":
            return self.cdn(parts)
        if len(parts) >= 4 and parts[0] == "api" and parts[1] == "models":
            return self.api(path, parts[2], parts[3], parts[4:], q, query)
        if len(parts) >= 5 and parts[2] == "resolve":
            return self.resolve(parts[0], parts[1], parts[3], parts[4:])
        return error_resp(404, None, "Sorry, we can't find the page you are looking for.")

    def check_repo(self, org, name):
        """Return (repo_dir, None) or (None, error Resp): existence + gating."""
        hub = self.hub
        repo_id = "%s/%s" % (org, name)
        auth = self.headers.get("Authorization")
        rdir = hub.repo_dir(org, name)
        if rdir is None:
            msg = "Repository Not Found for url: %s%s." % (self.base_url(), self.path.split("?")[0])
            # Anonymous callers get 401 (as on the real Hub); authenticated 404.
            return None, error_resp(404 if auth else 401, "RepoNotFound", msg)
        if repo_id in hub.gated:
            msg = ("Access to model %s is restricted. You must have access to it "
                   "and be authenticated to access it. Please log in." % repo_id)
            if not auth:
                return None, error_resp(401, "GatedRepo", msg)
            if token_number(hub, auth) == 0:
                return None, error_resp(403, "GatedRepo", msg)
        return rdir, None

    def check_rev(self, org, name, rdir, rev):
        repo_id = "%s/%s" % (org, name)
        r = self.hub.resolve_rev(repo_id, rdir, rev)
        if r is None:
            return None, error_resp(404, "RevisionNotFound",
                                    "Invalid rev id: %s" % rev)
        revname, revdir = r
        return (revname, revdir, self.hub.commit_of(repo_id, revname)), None

    def api(self, path, org, name, rest, q, rawquery):
        rdir, err = self.check_repo(org, name)
        if err:
            return err
        if not rest:
            rev, sub = "main", []
            kind = "info"
        elif rest[0] == "revision" and len(rest) == 2:
            rev, sub, kind = rest[1], [], "info"
        elif rest[0] == "tree" and len(rest) >= 2:
            rev, sub, kind = rest[1], [p for p in rest[2:] if p != ""], "tree"
        else:
            return error_resp(404, None, "Sorry, we can't find the page you are looking for.")
        r, err = self.check_rev(org, name, rdir, rev)
        if err:
            return err
        if kind == "info":
            return self.model_info(org, name, r, q.get("blobs", "").lower() in ("1", "true"))
        return self.tree(path, org, name, r, sub, q, rawquery)

    def model_info(self, org, name, r, blobs):
        revname, revdir, commit = r
        repo_id = "%s/%s" % (org, name)
        files = self.hub.list_files(revdir)
        newest = max([st.st_mtime for _, _, st in files] or [os.stat(revdir).st_mtime])
        siblings = []
        for rel, p, st in files:
            s = {"rfilename": rel}
            if blobs:
                fi = self.hub.file_info(rel, p, st)
                s["size"] = fi["size"]
                s["blobId"] = fi["oid"]
                if fi["lfs"]:
                    s["lfs"] = {"sha256": fi["sha256"], "size": fi["size"],
                                "pointerSize": fi["pointer_size"]}
            siblings.append(s)
        info = {
            "_id": hashlib.sha1(repo_id.encode()).hexdigest()[:24],
            "id": repo_id,
            "modelId": repo_id,
            "author": org,
            "sha": commit,
            "lastModified": iso8601(newest),
            "createdAt": iso8601(newest),
            "private": False,
            "gated": "manual" if repo_id in self.hub.gated else False,
            "disabled": False,
            "downloads": 0,
            "likes": 0,
            "tags": [],
            "library_name": "transformers",
            "siblings": siblings,
        }
        return json_resp(200, info)

    def tree(self, path, org, name, r, sub, q, rawquery):
        with self.state.lock:
            raw = self.state.listings.get("%s/%s" % (org, name))
        if raw is not None:
            return Resp(200, [("Content-Type", "application/json")], raw)
        revname, revdir, commit = r
        prefix = "/".join(sub)
        if any(not Hub.safe_component(c) for c in sub):
            return error_resp(404, "EntryNotFound", "Invalid path %s" % prefix)
        if prefix and not os.path.isdir(os.path.join(revdir, *sub)):
            return error_resp(404, "EntryNotFound",
                              "%s does not exist on \"%s\"" % (prefix, revname))
        recursive = q.get("recursive", "").lower() in ("1", "true")
        base = prefix + "/" if prefix else ""
        files = [f for f in self.hub.list_files(revdir) if f[0].startswith(base)]
        dirs = set()
        chosen = []
        for rel, p, st in files:
            tail = rel[len(base):]
            segs = tail.split("/")
            # Directories strictly below the prefix that contain this file.
            for i in range(1, len(segs)):
                if recursive or i == 1:
                    dirs.add(base + "/".join(segs[:i]))
            if recursive or len(segs) == 1:
                chosen.append((rel, p, st))
        entries = [("directory", d, None, None) for d in dirs]
        entries += [("file", rel, p, st) for rel, p, st in chosen]
        entries.sort(key=lambda e: e[1])

        # Pagination: the cursor is an opaque base64 of the start offset.
        offset = 0
        if "cursor" in q:
            try:
                c = q["cursor"]
                tok = base64.urlsafe_b64decode(c + "=" * (-len(c) % 4)).decode()
                if not tok.startswith("off:"):
                    raise ValueError(tok)
                offset = int(tok[4:])
                if offset < 0:
                    raise ValueError(tok)
            except (ValueError, UnicodeDecodeError):
                return error_resp(400, None, "Invalid cursor")
        page = entries[offset:offset + self.hub.page_size]
        out = []
        for kind, rel, p, st in page:  # hash only the entries of this page
            if kind == "directory":
                oid = hashlib.sha1(("tree %s@%s" % (rel, commit)).encode()).hexdigest()
                out.append({"type": "directory", "oid": oid, "size": 0, "path": rel})
            else:
                fi = self.hub.file_info(rel, p, st)
                e = {"type": "file", "oid": fi["oid"], "size": fi["size"], "path": rel}
                if fi["lfs"]:
                    e["lfs"] = {"oid": fi["sha256"], "size": fi["size"],
                                "pointerSize": fi["pointer_size"]}
                out.append(e)
        headers = []
        nxt = offset + len(page)
        if nxt < len(entries):
            cursor = base64.urlsafe_b64encode(b"off:%d" % nxt).decode().rstrip("=")
            params = [(k, v) for k, v in urllib.parse.parse_qsl(rawquery, keep_blank_values=True)
                      if k != "cursor"] + [("cursor", cursor)]
            url = "%s%s?%s" % (self.base_url(), path, urllib.parse.urlencode(params))
            headers.append(("Link", '<%s>; rel="next"' % url))
        return json_resp(200, out, headers)

    def resolve(self, org, name, rev, pathparts):
        rdir, err = self.check_repo(org, name)
        if err:
            return err
        r, err = self.check_rev(org, name, rdir, rev)
        if err:
            return err
        revname, revdir, commit = r
        rel = "/".join(pathparts)
        missing = error_resp(404, "EntryNotFound",
                             "%s does not exist on \"%s\"" % (rel, revname),
                             [("X-Repo-Commit", commit)])
        if not pathparts or any(not Hub.safe_component(c) for c in pathparts):
            return missing
        abspath = os.path.join(revdir, *pathparts)
        try:
            st = os.stat(abspath)
        except OSError:
            return missing
        if not os.path.isfile(abspath):
            return missing
        fi = self.hub.file_info(rel, abspath, st)
        common = [("X-Repo-Commit", commit)]
        if fi["lfs"]:
            sha = fi["sha256"]
            base = self.hub.cdn_base or self.base_url()
            loc = "%s/cdn/%s?X-Amz-Expires=3600&X-Amz-Signature=%s" % (
                base, sha, secrets.token_hex(32))
            return Resp(302, common + [
                ("ETag", '"%s"' % sha),
                ("X-Linked-Etag", '"%s"' % sha),
                ("X-Linked-Size", str(st.st_size)),
                ("Accept-Ranges", "bytes"),
                ("Location", loc),
            ])
        ctype = "text/plain; charset=utf-8"
        if rel.endswith(".json"):
            ctype = "application/json; charset=utf-8"
        return file_resp(abspath, st.st_size, self.headers.get("Range"),
                         common + [("ETag", '"%s"' % fi["oid"])], ctype)

    def cdn(self, parts):
        if self.headers.get("Authorization") is not None:
            # Tests rely on this to prove the token never reaches the CDN, so
            # it is exempt from fault injection.
            resp = Resp(400, [("Content-Type", "text/plain")],
                        b"authorization header sent to CDN")
            resp.no_fault = True
            return resp
        sha = parts[1] if len(parts) == 2 else ""
        found = self.hub.find_blob(sha.lower()) if len(sha) == 64 else None
        if found is None:
            return Resp(404, [("Content-Type", "application/xml")],
                        b"<Error><Code>NoSuchKey</Code>"
                        b"<Message>The specified key does not exist.</Message></Error>")
        path, st = found
        return file_resp(path, st.st_size, self.headers.get("Range"),
                         [("ETag", '"%s"' % sha.lower())])

    # -- output -------------------------------------------------------------

    def apply_fault(self, kind, resp):
        """Rewrite resp for fault `kind`; returns (resp, body_limit, after)."""
        after = None
        limit = resp.body_len()
        if kind in ("500", "502", "503"):
            resp = error_resp(int(kind), None, "injected fault %s" % kind)
            limit = resp.body_len()
        elif kind == "429":
            resp = error_resp(429, None, "Too Many Requests", [("Retry-After", "1")])
            limit = resp.body_len()
        elif kind == "expire":
            resp = Resp(403, [("Content-Type", "application/xml")],
                        b"<Error><Code>AccessDenied</Code>"
                        b"<Message>Request has expired</Message></Error>")
            limit = resp.body_len()
        elif kind == "full200":
            resp.status = 200
            resp.headers = [h for h in resp.headers if h[0] != "Content-Range"]
            resp.file_offset, resp.file_length, resp.rng = 0, resp.file_size, None
            limit = resp.body_len()
        elif kind == "badrange":
            s, e = resp.rng
            resp.headers = [h for h in resp.headers if h[0] != "Content-Range"] + [
                ("Content-Range", "bytes %d-%d/%d" % (s + 4096, e + 4096, resp.file_size))]
        elif kind in ("reset", "short"):
            limit = resp.body_len() // 2
            after = kind
        elif kind == "stall":
            limit = 0
            after = "stall"
        return resp, limit, after

    def emit(self, resp, path, control):
        fault = None if control or resp.no_fault else self.state.take_fault(path, resp)
        limit, after = resp.body_len(), None
        if fault:
            resp, limit, after = self.apply_fault(fault, resp)
        head = self.command == "HEAD"
        sent = 0
        fobj = None
        try:
            if resp.file_path and not head:
                try:
                    fobj = open(resp.file_path, "rb")
                except OSError:
                    resp = error_resp(404, "EntryNotFound", "file vanished")
                    limit = resp.body_len()
            self.send_response(resp.status)
            for k, v in resp.headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(resp.body_len()))
            if after:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if not head:
                if fobj:
                    sent = self.send_file(fobj, resp.file_offset, min(limit, resp.file_length))
                elif limit:
                    self.wfile.write(resp.body[:limit])
                    sent = limit
        except OSError as e:  # client went away mid-response
            if isinstance(e, SentFileError):
                sent = e.sent
            self.close_connection = True
            after = None
        finally:
            if fobj:
                fobj.close()
        if after == "reset":
            self.abort_connection()
        entry = {"t": time.time(), "method": self.command, "path": path,
                 "status": resp.status,
                 "range": list(resp.rng) if resp.rng and resp.status == 206 else None,
                 "bytes": sent,
                 "auth": self.headers.get("Authorization") is not None,
                 "token": token_number(self.hub, self.headers.get("Authorization"))}
        if fault:
            entry["fault"] = fault
        self.state.record(entry, control)  # logged before a stall begins
        if after == "stall":
            STOPPING.wait(STALL_SECONDS)  # ends early on SIGTERM

    def send_file(self, fobj, offset, length):
        """Send length bytes of fobj from offset; returns bytes sent.

        Uses os.sendfile() (zero-copy); if the kernel refuses sendfile for
        this pair of descriptors it falls back to 1 MiB read/write chunks.
        Raises SentFileError (carrying the count) if the client goes away.
        """
        sent = 0
        use_sendfile = hasattr(os, "sendfile")
        rate = self.rate  # bytes per second per connection, 0 = unlimited
        chunk = SENDFILE_CHUNK if use_sendfile else COPY_CHUNK
        if rate:
            chunk = max(4096, min(chunk, rate // 20))  # ~20 pauses a second
        started = time.monotonic()
        try:
            while sent < length:
                want = min(length - sent, chunk if use_sendfile else min(chunk, COPY_CHUNK))
                if use_sendfile:
                    try:
                        n = os.sendfile(self.connection.fileno(), fobj.fileno(),
                                        offset + sent, want)
                    except OSError as e:
                        if sent == 0 and e.errno in (errno.EINVAL, errno.ENOSYS,
                                                     errno.EOPNOTSUPP):
                            use_sendfile = False  # not supported here: copy
                            continue
                        raise
                else:
                    fobj.seek(offset + sent)
                    buf = fobj.read(want)
                    self.wfile.write(buf)
                    n = len(buf)
                if n == 0:  # file shrank under us: cannot honour Content-Length
                    self.close_connection = True
                    break
                sent += n
                if rate:
                    # pace the body like a CDN's per-connection cap: a
                    # chunk is followed by the time it "took"
                    ahead = sent / rate - (time.monotonic() - started)
                    if ahead > 0:
                        time.sleep(ahead)
            return sent
        except OSError as e:
            raise SentFileError(sent) from e

    def abort_connection(self):
        """Close the socket with SO_LINGER 0 so the peer sees a TCP RST."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.rfile.close()        # drop the makefile() reference ...
            self.connection.close()   # ... so this really closes the fd (RST)
        except OSError:
            pass


class SentFileError(OSError):
    """Client went away during a file body; .sent is what got out."""

    def __init__(self, sent):
        super().__init__("client disconnected after %d bytes" % sent)
        self.sent = sent


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # listen backlog: clients may open many connections

    def handle_error(self, request, client_address):
        # Disconnects are normal in tests; only report real bugs.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def parse_size(text):
    text = text.strip()
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:].upper(), 1)
    return int(text[:-1] if mult > 1 else text) * mult


def main(argv=None):
    ap = argparse.ArgumentParser(description="Fake Hugging Face Hub for aimfs tests.")
    ap.add_argument("--root", required=True, help="ROOT/<org>/<name>/<revname>/files")
    ap.add_argument("--host", default="127.0.0.1",
                    help="loopback address to listen on (e.g. 127.0.0.2 for a CDN "
                         "on another host)")
    ap.add_argument("--port", type=int, default=0, help="0 = any free port")
    ap.add_argument("--port-file", help="write the bound port here (atomically)")
    ap.add_argument("--log", help="append JSON request log lines here")
    ap.add_argument("--cdn-base", help="base URL for LFS redirects (default: this server)")
    ap.add_argument("--token", action="append", default=[],
                    help="a token that opens gated repos (repeatable)")
    ap.add_argument("--gated", action="append", default=[], metavar="ORG/NAME",
                    help="gated repo (repeatable)")
    ap.add_argument("--page-size", type=int, default=1000, help="tree entries per page")
    ap.add_argument("--lfs-threshold", type=parse_size, default=10 << 20,
                    help="files at least this big are LFS (default 10M)")
    ap.add_argument("--verbose", action="store_true", help="log requests to stderr")
    ap.add_argument("--rate", type=parse_size, default=0,
                    help="cap file bodies at RATE bytes/s per connection (K/M/G)")
    args = ap.parse_args(argv)
    if args.page_size < 1:
        ap.error("--page-size must be >= 1")
    if not os.path.isdir(args.root):
        ap.error("--root %s is not a directory" % args.root)

    Handler.hub = Hub(args)
    Handler.state = State(args.log)
    Handler.verbose = args.verbose
    Handler.rate = args.rate
    server = Server((args.host, args.port), Handler)
    port = server.server_address[1]

    if args.port_file:
        tmp = "%s.tmp.%d" % (args.port_file, os.getpid())
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)
    if args.verbose:
        sys.stderr.write("fakehub: listening on %s:%d\n" % (args.host, port))

    def on_signal(signum, frame):
        STOPPING.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # Serve from a thread that (like the handler threads it spawns) has the
    # signals blocked, so SIGTERM always lands on the main thread and wakes
    # the wait below at once.
    sigs = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                         daemon=True)
    t.start()
    signal.pthread_sigmask(signal.SIG_UNBLOCK, sigs)
    while not STOPPING.wait(5.0):
        pass
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
