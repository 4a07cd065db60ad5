#!/usr/bin/python3
"""SigV4-checking S3 proxy for aimfs tests, meant to sit in front of s3rver.

Run:
    /usr/bin/python3 tests/server/s3proxy.py --upstream http://127.0.0.1:PORT
        [--port 0] [--port-file FILE] [--log FILE]
        --cred AKID:SECRET[:SESSIONTOKEN] [--cred ...]
        [--region us-east-1] [--allow-anonymous BUCKET ...]
        [--max-skew SECONDS] [--strict-encoding] [--max-keys N] [--raw]
        [--verbose]

Every request (any method; path, query, headers and body) is checked and then
forwarded to the upstream S3 server (s3rver); the answer (status, headers,
body; HEAD too) is streamed back.  Client connections are HTTP/1.1
keep-alive; each one gets its own keep-alive upstream connection.

Authentication (header-based AWS Signature Version 4 only):
  The signature is recomputed with botocore's S3SigV4Auth machinery from the
  request exactly as received: the canonical URI is the path as sent on the
  wire (no decoding, no re-encoding, no normalisation -- that is what S3 does
  with a path the client already percent-encoded), the canonical query is the
  raw query as sent (pairs sorted), the canonical headers are exactly the
  SignedHeaders the Authorization header lists (values as sent, trimmed), the
  timestamp is the request's x-amz-date, and the payload hash is the
  x-amz-content-sha256 header, which must be present and -- unless it is
  UNSIGNED-PAYLOAD -- equal the sha256 of the body received.
  Errors (S3 XML bodies: <Error><Code>..</Code><Message>..</Message>..</Error>):
    no Authorization header              403 AccessDenied (unless the bucket is
                                         --allow-anonymous and the method is
                                         GET or HEAD: then forwarded unsigned)
    presigned query-string auth          403 AccessDenied (not supported)
    not AWS4-HMAC-SHA256 / malformed     400 InvalidArgument /
                                         400 AuthorizationHeaderMalformed
    unknown access key id                403 InvalidAccessKeyId
    no/invalid x-amz-date                403 AccessDenied
    x-amz-date > --max-skew (900 s) off  403 RequestTimeTooSkewed
    scope date/region/service wrong      400 AuthorizationHeaderMalformed
    x-amz-content-sha256 missing         400 InvalidRequest
    x-amz-content-sha256 unusable        400 InvalidArgument (STREAMING-*: 501
                                         NotImplemented)
    session token missing/wrong/unsigned 403 InvalidToken (a credential given
                                         with :TOKEN needs the matching
                                         x-amz-security-token header, signed;
                                         one without a token refuses any)
    host or an x-amz-* header unsigned   403 AccessDenied (HeadersNotSigned)
    signature differs                    403 SignatureDoesNotMatch (the body
                                         carries CanonicalRequest and
                                         StringToSign, as real S3 does)
    body sha256 != x-amz-content-sha256  400 XAmzContentSHA256Mismatch
    --strict-encoding: path or query     403 SignatureDoesNotMatch (with
    on the wire not in the strict SigV4  <Detail>), even when the signature
    URI encoding                         over the wire form is right
  "Strict SigV4 URI encoding": every byte except A-Z a-z 0-9 - _ . ~ (and "/"
  in the path) as %XX with upper-case hex, e.g. "+" as %2B, "=" as %3D, space
  as %20.  A client whose wire form is in that encoding gets the same
  canonical request whether a server signs the path as sent (this proxy) or
  decodes and re-encodes it (as some S3 implementations do), so
  --strict-encoding is the safe
  setting for testing a client meant for several S3 implementations; without
  it such requests are only flagged ("noncanonical" in the log).
  Addressing: path style (http://127.0.0.1:PORT/bucket/key).  Virtual-hosted
  style is accepted when the Host header is BUCKET.localhost[:PORT] or
  BUCKET.s3.localhost[:PORT]: the signature is checked against that Host and
  path as sent, then the request is rewritten to path style for upstream.
  Upstream sees the request with Host set to the upstream address, no
  x-amz-security-token, and (for signed requests) an Authorization header
  naming s3rver's built-in S3RVER key (s3rver does not check V4 signatures;
  this proxy does).

Listing pages (--max-keys N): a ListObjectsV2 request (GET on a bucket with
  list-type=2) is forwarded upstream with max-keys at most N, so that a
  client must follow continuation tokens after N objects, not only after
  S3's 1000 (S3 too may return fewer keys than asked for).  The client's
  signature is checked over the query it sent.

s3rver fix-ups (disable with --raw), so that clients see real S3 behaviour:
  Range: bytes=-N (suffix)      s3rver serves bytes 0..N: the proxy asks
                                upstream for the size (HEAD) and sends an
                                explicit range.
  Range: bytes=0-0              s3rver serves the whole object: the proxy asks
                                for bytes=0- and forwards just the first byte
                                (Content-Range bytes 0-0/SIZE).
  any Range on an empty object  s3rver answers "206, Content-Range bytes
                                0-0/0, Content-Length: 1" and never sends the
                                byte (clients hang): the proxy answers 416
                                InvalidRange (Content-Range: bytes */0).
  unparsable, multi-range or    S3 ignores such a Range (200, full body);
  last<first Range              s3rver does not: the proxy drops the header.
  If-Match, If-Unmodified-Since s3rver ignores them; If-None-Match and
  If-None-Match,                If-Modified-Since only partly work.  On
  If-Modified-Since             GET/HEAD of an object carrying any of them the
                                proxy HEADs upstream and answers 412
                                PreconditionFailed / 304 Not Modified itself
                                (S3 precedence rules), otherwise forwards the
                                request without them; if the object changed
                                between that HEAD and the GET, the GET's ETag
                                is re-checked against If-Match (412).

Request log (--log): one JSON object per line, flushed per line:
  {"t": 1700000000.123, "method": "GET", "path": "/bucket/key with space",
   "query": "list-type=2&prefix=a" (values of X-Amz-Signature,
   X-Amz-Credential, X-Amz-Security-Token, Signature, AWSAccessKeyId replaced
   by REDACTED), "status": 206, "range": [a, b] | null,
   "bytes": <body bytes sent to the client>, "signed": <Authorization header
   present>, "verified": <signature checked OK>, "access_key": "AKID" | null
   [, "error": "<S3 error code the proxy itself answered with>"]
   [, "fault": "<injected fault kind>"] [, "vhost": true]
   [, "noncanonical": true  (path or query on the wire is not in the strict
                             SigV4 URI-encoding, e.g. a raw "=" or "%2b")]}
  "path" is the percent-decoded path-style path without the query.
  Secrets, session tokens and signatures are never logged.

Test control (never signed, faulted or counted; bucket names cannot start
with "_", so these never clash with S3 paths):
  POST /_fault {"kind": K, "count": N, "match": "path substring"}  queue faults
  POST /_fault {"kind": "clear"}                                   drop them all
  POST /_listing {"bucket": B, "body": "raw XML"}  every ListObjectsV2 of
                 bucket B (after the signature check) answers 200 with
                 exactly that body (a hostile or broken store: keys S3
                 allows but s3rver cannot store, duplicates); body null
                 restores it.  Such answers are logged with "listing": true
  GET  /_fault                                                     list the queue
  GET  /_stats  -> {"requests": n, "verified": n, "rejected": n,
                    "anonymous": n, "bytes": n}
Fault kinds (a fault is consumed only by a request that passed the
authentication check; "match" is a substring of the decoded or raw path):
  500 / 503 / 429   answered by the proxy without forwarding: S3 XML
                    InternalError / ServiceUnavailable / SlowDown (429 and
                    503 carry Retry-After: 1)
  reset             forwarded; headers + half the body, then TCP RST
  short             forwarded; half the body, then FIN (only responses with
                    a non-empty body consume it)

Standard library + Debian's python3-botocore; run with /usr/bin/python3.
"""

import argparse
import calendar
import datetime
import hashlib
import hmac
import http.client
import http.server
import json
import os
import re
import secrets
import signal
import socket
import struct
import sys
import tempfile
import threading
import time
import urllib.parse
from email.utils import parsedate_to_datetime
from xml.sax.saxutils import escape as xml_escape

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials

CHUNK = 1 << 20
SPOOL_MAX = 32 << 20          # request bodies above this are spooled to disk
UPSTREAM_IDLE_MAX = 3.0       # s3rver (node) drops idle keep-alive after 5 s
UPSTREAM_KEY = "S3RVER"       # s3rver's built-in access key
FAULT_KINDS = {
    "500": lambda r: True,
    "503": lambda r: True,
    "429": lambda r: True,
    "reset": lambda r: True,
    "short": lambda r: r is not None and r > 0,
}
PRE_FAULTS = ("500", "503", "429")     # answered without forwarding
POST_FAULTS = ("reset", "short")       # need the upstream response
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authorization",
              "proxy-authenticate", "te", "trailer", "trailers", "transfer-encoding",
              "upgrade", "expect", "host", "content-length"}
COND_HEADERS = ("if-match", "if-none-match", "if-modified-since", "if-unmodified-since")
UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")
AMZ_DATE_RE = re.compile(r"^\d{8}T\d{6}Z$")
SHA256_RE = re.compile(r"^[0-9a-fA-F]{64}$")
# query keys that make a GET/HEAD on a key something else than an object read
SUBRESOURCES = {"acl", "tagging", "uploadId", "uploads", "torrent", "legal-hold",
                "retention", "attributes", "restore", "select"}

STOPPING = threading.Event()


# -- helpers ------------------------------------------------------------------

def strict_encoding_ok(raw, keep_slash):
    """True if raw is exactly the strict SigV4 URI-encoding of its decoding:
    unreserved characters literal, everything else %XX with upper-case hex
    ('/' literal too in a path)."""
    b = raw.encode("latin-1", "replace")
    i, n = 0, len(b)
    while i < n:
        c = b[i]
        if c == 0x25:  # %
            h = b[i + 1:i + 3]
            if len(h) != 2 or not all(x in b"0123456789ABCDEF" for x in h):
                return False
            v = int(h, 16)
            if v in UNRESERVED or (keep_slash and v == 0x2F):
                return False   # should have been literal
            i += 3
            continue
        if c not in UNRESERVED and not (keep_slash and c == 0x2F):
            return False
        i += 1
    return True


def query_canonical_ok(rawquery):
    if not rawquery:
        return True
    for pair in rawquery.split("&"):
        k, _, v = pair.partition("=")
        if not (strict_encoding_ok(k, False) and strict_encoding_ok(v, False)):
            return False
    return True


def wire_text(s):
    """http.server decodes request lines and headers as latin-1; SigV4 signs
    the raw bytes, which botocore takes as UTF-8 text: map back."""
    try:
        return s.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return s


REDACT_QUERY = {"x-amz-signature", "signature", "x-amz-security-token", "x-amz-credential",
                "awsaccesskeyid"}


def redact_query(q):
    """The raw query for the log, with signature/token/credential values
    replaced by REDACTED."""
    if not q:
        return q
    out = []
    for pair in q.split("&"):
        k, sep, v = pair.partition("=")
        out.append(k + sep + "REDACTED" if sep and k.lower() in REDACT_QUERY else pair)
    return "&".join(out)


def parse_http_date(text):
    try:
        dt = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    return dt.timestamp()


def etag_list(value):
    """Entity tags of an If-Match / If-None-Match value, quotes and W/ gone."""
    out = []
    for part in value.split(","):
        part = part.strip()
        if part.startswith("W/"):
            part = part[2:]
        out.append(part.strip('"'))
    return [p for p in out if p]


class Resp:
    """A response produced by the proxy itself (errors, control, faults)."""

    def __init__(self, status, headers=None, body=b"", error=None):
        self.status = status
        self.headers = list(headers or [])
        self.body = body
        self.error = error


def s3_error(status, code, message, extra=None, headers=None):
    rid = secrets.token_hex(8).upper()
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>%s</Message>'
             % (xml_escape(code), xml_escape(message))]
    for k, v in (extra or []):
        parts.append("<%s>%s</%s>" % (k, xml_escape(str(v)), k))
    parts.append("<RequestId>%s</RequestId><HostId>s3proxy</HostId></Error>" % rid)
    body = "".join(parts).encode("utf-8")
    hdrs = [("Content-Type", "application/xml"), ("x-amz-request-id", rid)] + list(headers or [])
    return Resp(status, hdrs, body, error=code)


def json_resp(status, obj):
    return Resp(status, [("Content-Type", "application/json")],
                json.dumps(obj, separators=(",", ":")).encode())


class CheckerAuth(S3SigV4Auth):
    """botocore's S3 SigV4 signer, told exactly which headers were signed.

    S3SigV4Auth already takes the canonical URI verbatim from the URL (S3 does
    not normalise) and the query pairs verbatim; the payload hash comes from
    the X-Amz-Content-SHA256 header.  The only change: the signed headers are
    the ones the client listed, not botocore's own choice.
    """

    def __init__(self, credentials, region, service, signed_headers):
        super().__init__(credentials, service, region)
        self._signed = signed_headers

    def headers_to_sign(self, request):
        hm = HTTPHeaders()
        for name in self._signed:
            for value in request.headers.get_all(name) or [""]:
                hm[name] = value
        return hm


class AuthResult:
    def __init__(self):
        self.signed = False
        self.verified = False
        self.access_key = None
        self.scope_rest = None      # date/region/service/aws4_request
        self.signed_headers = None
        self.error = None           # Resp


class State:
    def __init__(self, args):
        self.lock = threading.Lock()
        self.faults = []
        self.listings = {}   # bucket -> raw ListObjectsV2 body (hostile tests)
        self.requests = 0
        self.verified = 0
        self.rejected = 0
        self.anonymous = 0
        self.bytes = 0
        self.creds = {}
        for c in args.cred:
            parts = c.split(":", 2)
            if len(parts) < 2 or not parts[0] or not parts[1]:
                raise SystemExit("s3proxy: bad --cred %r (want AKID:SECRET[:TOKEN])" % c.split(":")[0])
            self.creds[parts[0]] = (parts[1], parts[2] if len(parts) == 3 and parts[2] else None)
        self.region = args.region
        self.allow_anon = set(args.allow_anonymous or [])
        self.max_skew = args.max_skew
        self.raw = args.raw
        self.max_keys = args.max_keys
        self.strict_encoding = args.strict_encoding
        self.log_lock = threading.Lock()
        self.log = open(args.log, "a", buffering=1) if args.log else None
        u = urllib.parse.urlsplit(args.upstream)
        if u.scheme != "http" or not u.hostname:
            raise SystemExit("s3proxy: --upstream must be http://HOST:PORT")
        self.up_host = u.hostname
        self.up_port = u.port or 80
        self.up_hostport = "%s:%d" % (u.hostname, self.up_port)

    def take_fault(self, path, raw_path, phase, body_len=None):
        with self.lock:
            for f in self.faults:
                if f["kind"] not in phase:
                    continue
                if not (f["match"] in path or f["match"] in raw_path):
                    continue
                if not FAULT_KINDS[f["kind"]](body_len):
                    continue
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
                if entry.get("verified"):
                    self.verified += 1
                if entry.get("rejected"):
                    self.rejected += 1
                if not entry.get("signed") and not entry.get("rejected"):
                    self.anonymous += 1
        entry.pop("rejected", None)
        if self.log:
            line = json.dumps(entry, ensure_ascii=False) + "\n"
            with self.log_lock:
                self.log.write(line)
                self.log.flush()


class UpstreamGone(Exception):
    pass


# -- the handler ----------------------------------------------------------------

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "s3proxy/1.0"
    disable_nagle_algorithm = True
    state = None
    verbose = False

    def setup(self):
        super().setup()
        self.up = None
        self.up_used = 0.0

    def finish(self):
        self.close_upstream()
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, fmt, *args):
        if self.verbose:
            sys.stderr.write("s3proxy: %s - %s\n" % (self.address_string(), fmt % args))

    def handle(self):
        try:
            super().handle()
        except OSError:
            pass

    def do_GET(self):
        self.dispatch()

    do_HEAD = do_PUT = do_POST = do_DELETE = do_OPTIONS = do_PATCH = do_GET

    # -- request body ------------------------------------------------------------

    def read_body(self):
        """Read the request body (Content-Length or chunked) into a spooled
        temp file. Returns (fileobj or None, length, sha256 hex)."""
        h = hashlib.sha256()
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        cl = self.headers.get("Content-Length")
        if "chunked" not in te and cl is None:
            return None, 0, h.hexdigest()
        f = tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX)
        total = 0
        if "chunked" in te:
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise ConnectionError("eof in chunked body")
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while True:  # trailers
                        t = self.rfile.readline(65537)
                        if t in (b"\r\n", b"\n", b""):
                            break
                    break
                left = size
                while left:
                    buf = self.rfile.read(min(left, CHUNK))
                    if not buf:
                        raise ConnectionError("eof in chunked body")
                    h.update(buf)
                    f.write(buf)
                    left -= len(buf)
                    total += len(buf)
                self.rfile.readline(3)
        else:
            left = int(cl)
            if left < 0:
                raise ValueError("negative Content-Length")
            while left:
                buf = self.rfile.read(min(left, CHUNK))
                if not buf:
                    raise ConnectionError("eof in body")
                h.update(buf)
                f.write(buf)
                left -= len(buf)
                total += len(buf)
        f.seek(0)
        return f, total, h.hexdigest()

    # -- entry point ---------------------------------------------------------------

    def dispatch(self):
        st = self.state
        target = self.path
        if target.startswith(("http://", "https://")):  # absolute-form
            s = urllib.parse.urlsplit(target)
            target = s.path + ("?" + s.query if s.query else "")
        raw_path, _, raw_query = target.partition("?")
        host = self.headers.get("Host") or ""
        hostname = host.rsplit(":", 1)[0].lower() if not host.startswith("[") else host
        vbucket = None
        for suffix in (".s3.localhost", ".localhost"):
            if hostname.endswith(suffix) and hostname != "s3.localhost":
                vbucket = hostname[:-len(suffix)]
                break
        up_path = ("/" + vbucket + raw_path) if vbucket else raw_path
        path = urllib.parse.unquote(up_path, errors="replace")
        control = vbucket is None and raw_path in ("/_fault", "/_stats", "/_listing")

        try:
            body, blen, bsha = self.read_body()
        except (ValueError, ConnectionError) as e:
            self.close_connection = True
            self.send_own(s3_error(400, "IncompleteBody", "bad request body: %s" % e),
                          self.entry(path, raw_query, None), control)
            return
        try:
            if control:
                data = body.read() if body else b""
                self.send_own(self.control(raw_path, data), self.entry(path, raw_query, None), True)
                return
            auth = self.authenticate(host, raw_path, raw_query, blen, bsha, path)
            entry = self.entry(path, raw_query, auth)
            if vbucket:
                entry["vhost"] = True
            if not (strict_encoding_ok(raw_path, True) and query_canonical_ok(raw_query)):
                entry["noncanonical"] = True
                if st.strict_encoding and auth.signed and auth.error is None:
                    auth.verified = False
                    entry["verified"] = False
                    auth.error = s3_error(
                        403, "SignatureDoesNotMatch",
                        "The request signature we calculated does not match the signature "
                        "you provided. Check your key and signing method.",
                        [("Detail", "--strict-encoding: the path or query on the wire is "
                                    "not in the strict SigV4 URI encoding (e.g. a raw '+', "
                                    "'=' or lower-case %xx)")])
            if auth.error is not None:
                entry["rejected"] = True
                self.send_own(auth.error, entry, False)
                return
            fault = st.take_fault(path, up_path, PRE_FAULTS)
            if fault:
                entry["fault"] = fault
                self.send_own(self.fault_resp(fault), entry, False)
                return
            bucket = path.strip("/")
            if self.command == "GET" and "/" not in bucket and \
                    "list-type=2" in (raw_query or "").split("&"):
                with st.lock:
                    raw = st.listings.get(bucket)
                if raw is not None:
                    entry["listing"] = True
                    self.send_own(Resp(200, [("Content-Type", "application/xml")],
                                       raw.encode("utf-8")), entry, False)
                    return
            self.forward(up_path, raw_query, path, body, blen, auth, entry)
        finally:
            if body is not None:
                body.close()

    def entry(self, path, raw_query, auth):
        return {"t": time.time(), "method": self.command, "path": path,
                "query": redact_query(raw_query), "status": 0, "range": None, "bytes": 0,
                "signed": bool(auth and auth.signed),
                "verified": bool(auth and auth.verified),
                "access_key": auth.access_key if auth else None}

    def fault_resp(self, kind):
        if kind == "500":
            return s3_error(500, "InternalError", "injected fault 500: We encountered an "
                            "internal error. Please try again.")
        if kind == "503":
            return s3_error(503, "ServiceUnavailable", "injected fault 503: Please reduce "
                            "your request rate.", headers=[("Retry-After", "1")])
        return s3_error(429, "SlowDown", "injected fault 429: Please reduce your request rate.",
                        headers=[("Retry-After", "1")])

    def control(self, path, body):
        st = self.state
        if path == "/_stats" and self.command in ("GET", "HEAD"):
            with st.lock:
                return json_resp(200, {"requests": st.requests, "verified": st.verified,
                                       "rejected": st.rejected, "anonymous": st.anonymous,
                                       "bytes": st.bytes})
        if path == "/_fault" and self.command in ("GET", "HEAD"):
            with st.lock:
                return json_resp(200, [dict(f) for f in st.faults])
        if path == "/_listing" and self.command == "POST":
            try:
                req = json.loads(body or b"{}")
                bucket = str(req["bucket"])
                raw = req.get("body")
                if raw is not None and not isinstance(raw, str):
                    raise TypeError("body")
            except (ValueError, KeyError, AttributeError, TypeError):
                return json_resp(400, {"error": "bad JSON listing request"})
            with st.lock:
                if raw is None:
                    st.listings.pop(bucket, None)
                else:
                    st.listings[bucket] = raw
            return json_resp(200, {"ok": True})
        if path == "/_fault" and self.command == "POST":
            try:
                req = json.loads(body or b"{}")
                kind = str(req.get("kind", ""))
                count = int(req.get("count", 1))
                match = str(req.get("match", ""))
            except (ValueError, AttributeError, TypeError):
                return json_resp(400, {"error": "bad JSON fault request"})
            if kind == "clear":
                with st.lock:
                    st.faults.clear()
                return json_resp(200, {"ok": True, "queued": 0})
            if kind not in FAULT_KINDS or count < 1:
                return json_resp(400, {"error": "unknown fault kind %r or bad count" % kind})
            with st.lock:
                st.faults.append({"kind": kind, "remaining": count, "match": match})
                n = len(st.faults)
            return json_resp(200, {"ok": True, "queued": n})
        return json_resp(405, {"error": "method not allowed"})

    # -- SigV4 check -----------------------------------------------------------------

    def authenticate(self, host, raw_path, raw_query, blen, bsha, path):
        st = self.state
        r = AuthResult()
        hdrs = self.headers
        authz = hdrs.get("Authorization")
        qkeys = {p.partition("=")[0].lower() for p in raw_query.split("&")} if raw_query else set()
        if authz is None:
            if "x-amz-signature" in qkeys or "signature" in qkeys or "x-amz-algorithm" in qkeys:
                r.error = s3_error(403, "AccessDenied",
                                   "Query-string (presigned) authentication is not supported "
                                   "by this test proxy")
                return r
            bucket = path.lstrip("/").split("/", 1)[0]
            if bucket and bucket in st.allow_anon and self.command in ("GET", "HEAD"):
                return r
            r.error = s3_error(403, "AccessDenied", "Access Denied")
            return r
        r.signed = True
        algo, _, rest = authz.strip().partition(" ")
        if algo != "AWS4-HMAC-SHA256":
            r.error = s3_error(400, "InvalidArgument", "Unsupported Authorization Type",
                               [("ArgumentName", "Authorization")])
            return r
        comps = {}
        for part in rest.split(","):
            k, sep, v = part.strip().partition("=")
            if not sep or k in comps:
                comps = None
                break
            comps[k] = v
        if comps is None or set(comps) != {"Credential", "SignedHeaders", "Signature"}:
            r.error = s3_error(400, "AuthorizationHeaderMalformed",
                               "The authorization header is malformed; the authorization "
                               "header requires three components: Credential, SignedHeaders, "
                               "and Signature.")
            return r
        cred = comps["Credential"].split("/")
        if len(cred) != 5:
            r.error = s3_error(400, "AuthorizationHeaderMalformed",
                               "The authorization header is malformed; the Credential is "
                               "mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/"
                               "aws4_request\".")
            return r
        akid, cdate, cregion, cservice, cterm = cred
        r.access_key = akid
        if akid not in st.creds:
            r.error = s3_error(403, "InvalidAccessKeyId",
                               "The AWS Access Key Id you provided does not exist in our "
                               "records.", [("AWSAccessKeyId", akid)])
            return r
        secret, token = st.creds[akid]
        amzdate = (hdrs.get("x-amz-date") or "").strip()
        if not AMZ_DATE_RE.match(amzdate):
            r.error = s3_error(403, "AccessDenied",
                               "AWS authentication requires a valid Date or x-amz-date header")
            return r
        try:
            ts = calendar.timegm(time.strptime(amzdate, "%Y%m%dT%H%M%SZ"))
        except ValueError:
            r.error = s3_error(403, "AccessDenied",
                               "AWS authentication requires a valid Date or x-amz-date header")
            return r
        now = time.time()
        if abs(now - ts) > st.max_skew:
            r.error = s3_error(403, "RequestTimeTooSkewed",
                               "The difference between the request time and the current "
                               "time is too large.",
                               [("RequestTime", amzdate),
                                ("ServerTime", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))),
                                ("MaxAllowedSkewMilliseconds", int(st.max_skew * 1000))])
            return r
        if cdate != amzdate[:8]:
            r.error = s3_error(400, "AuthorizationHeaderMalformed",
                               "The authorization header is malformed; Invalid credential "
                               "date \"%s\". Date is not the same as X-Amz-Date: \"%s\"."
                               % (cdate, amzdate[:8]))
            return r
        if cregion != st.region:
            r.error = s3_error(400, "AuthorizationHeaderMalformed",
                               "The authorization header is malformed; the region '%s' is "
                               "wrong; expecting '%s'" % (cregion, st.region),
                               [("Region", st.region)])
            return r
        if cservice != "s3" or cterm != "aws4_request":
            r.error = s3_error(400, "AuthorizationHeaderMalformed",
                               "The authorization header is malformed; incorrect service "
                               "\"%s\" or terminal \"%s\". This endpoint belongs to \"s3\"."
                               % (cservice, cterm))
            return r
        csha = hdrs.get("x-amz-content-sha256")
        if csha is None:
            r.error = s3_error(400, "InvalidRequest",
                               "Missing required header for this request: x-amz-content-sha256")
            return r
        csha = csha.strip()
        if csha.startswith("STREAMING-"):
            r.error = s3_error(501, "NotImplemented",
                               "aws-chunked uploads (%s) are not supported by this test proxy"
                               % csha)
            return r
        if csha != "UNSIGNED-PAYLOAD" and not SHA256_RE.match(csha):
            r.error = s3_error(400, "InvalidArgument",
                               "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, "
                               "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, or a valid sha256 value.",
                               [("ArgumentName", "x-amz-content-sha256"),
                                ("ArgumentValue", csha)])
            return r
        signed = comps["SignedHeaders"].split(";")
        if not signed or any(s != s.strip().lower() or not s for s in signed) \
                or signed != sorted(set(signed)):
            r.error = s3_error(400, "AuthorizationHeaderMalformed",
                               "The authorization header is malformed; SignedHeaders must be "
                               "lower-case, sorted and ';'-separated")
            return r
        sent_token = hdrs.get("x-amz-security-token")
        if token is not None or sent_token is not None:
            if sent_token is None or token is None or not hmac.compare_digest(
                    sent_token.strip().encode(), token.encode()):
                r.error = s3_error(403, "InvalidToken",
                                   "The provided token is malformed or otherwise invalid.")
                return r
        unsigned = sorted({k.lower() for k in hdrs.keys()
                           if k.lower().startswith("x-amz-") and k.lower() not in signed})
        if "host" not in signed:
            unsigned.insert(0, "host")
        if unsigned:
            r.error = s3_error(403, "AccessDenied",
                               "There were headers present in the request which were not "
                               "signed", [("HeadersNotSigned", ", ".join(unsigned))])
            return r
        sig = comps["Signature"]
        wpath, wquery = wire_text(raw_path), wire_text(raw_query)
        req = AWSRequest(method=self.command,
                         url="http://%s%s%s" % (wire_text(host) or "_", wpath,
                                                "?" + wquery if wquery else ""))
        split = urllib.parse.urlsplit(req.url)
        if split.path != wpath or split.query != wquery:
            r.error = s3_error(400, "InvalidURI", "Couldn't parse the specified URI.")
            return r
        for name in signed:
            for value in hdrs.get_all(name) or []:
                req.headers[name] = wire_text(value)
        req.context["timestamp"] = amzdate
        signer = CheckerAuth(Credentials(akid, secret, token), cregion, cservice, signed)
        canonical = signer.canonical_request(req)
        sts = signer.string_to_sign(req, canonical)
        want = signer.signature(sts, req)
        if not hmac.compare_digest(want.encode(), sig.encode()):
            r.error = s3_error(403, "SignatureDoesNotMatch",
                               "The request signature we calculated does not match the "
                               "signature you provided. Check your key and signing method.",
                               [("AWSAccessKeyId", akid), ("StringToSign", sts),
                                ("CanonicalRequest", canonical)])
            return r
        if csha != "UNSIGNED-PAYLOAD" and csha.lower() != bsha:
            r.error = s3_error(400, "XAmzContentSHA256Mismatch",
                               "The provided 'x-amz-content-sha256' header does not match "
                               "what was computed.",
                               [("ClientComputedContentSHA256", csha),
                                ("S3ComputedContentSHA256", bsha)])
            return r
        r.verified = True
        r.scope_rest = "/".join(cred[1:])
        r.signed_headers = comps["SignedHeaders"]
        return r

    # -- upstream ------------------------------------------------------------------------

    def close_upstream(self):
        if self.up is not None:
            try:
                self.up.close()
            except OSError:
                pass
            self.up = None

    def up_headers(self, auth, blen, has_body, drop=()):
        out = []
        for k, v in self.headers.items():
            lk = k.lower()
            if lk in HOP_BY_HOP or lk in drop or lk in ("authorization", "x-amz-security-token"):
                continue
            out.append((k, v))
        out.append(("Host", self.state.up_hostport))
        if has_body:
            out.append(("Content-Length", str(blen)))
        if auth.verified:
            out.append(("Authorization",
                        "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s"
                        % (UPSTREAM_KEY, auth.scope_rest, auth.signed_headers, "0" * 64)))
        return out

    def up_request(self, method, url, headers, body):
        """Send one request upstream and return the HTTPResponse; reconnects
        once if a reused keep-alive connection turns out to be dead."""
        for attempt in (0, 1):
            fresh = False
            if self.up is None or time.monotonic() - self.up_used > UPSTREAM_IDLE_MAX:
                self.close_upstream()
                self.up = http.client.HTTPConnection(self.state.up_host, self.state.up_port,
                                                     timeout=300, blocksize=CHUNK)
                fresh = True
            try:
                if body is not None:
                    body.seek(0)
                self.up.putrequest(method, url, skip_host=True, skip_accept_encoding=True)
                for k, v in headers:
                    self.up.putheader(k, v)
                self.up.endheaders()
                if body is not None:
                    while True:
                        buf = body.read(CHUNK)
                        if not buf:
                            break
                        self.up.send(buf)
                resp = self.up.getresponse()
                self.up_used = time.monotonic()
                return resp
            except (OSError, http.client.HTTPException) as e:
                self.close_upstream()
                if fresh or attempt:
                    raise UpstreamGone(str(e))
        raise UpstreamGone("unreachable")

    def up_head(self, up_url, auth):
        """HEAD the object upstream (no Range, no conditionals).
        Returns (status, headers dict lower-case)."""
        hdrs = self.up_headers(auth, 0, False, drop=("range",) + COND_HEADERS)
        resp = self.up_request("HEAD", up_url, hdrs, None)
        resp.read()
        h = {k.lower(): v for k, v in resp.getheaders()}
        if resp.will_close:
            self.close_upstream()
        return resp.status, h

    def forward(self, up_path, raw_query, path, body, blen, auth, entry):
        st = self.state
        up_query = raw_query
        if st.max_keys and self.command == "GET" and "/" not in path.strip("/"):
            pairs = raw_query.split("&") if raw_query else []
            if "list-type=2" in pairs:
                keep = [p for p in pairs if p.partition("=")[0] != "max-keys"]
                asked = [p.partition("=")[2] for p in pairs if p.partition("=")[0] == "max-keys"]
                n = st.max_keys
                if asked and asked[0].isdigit():
                    n = min(n, int(asked[0]))
                up_query = "&".join(keep + ["max-keys=%d" % n])
        up_url = up_path + ("?" + up_query if up_query else "")
        has_body = body is not None or self.command in ("PUT", "POST")
        method = self.command
        parts = path.lstrip("/").split("/", 1)
        qkeys = {p.partition("=")[0] for p in raw_query.split("&")} if raw_query else set()
        is_object = len(parts) == 2 and parts[1] != "" and method in ("GET", "HEAD") \
            and not (qkeys & SUBRESOURCES)
        drop = set()
        set_range = None
        trim = None          # (start, end) the client asked for, when we over-fetch
        cond = None          # precondition info from a HEAD
        try:
            if is_object and not st.raw:
                rng = self.headers.get("Range")
                have_cond = any(self.headers.get(c) is not None for c in COND_HEADERS)
                head = None
                if have_cond or (rng and re.match(r"^\s*bytes\s*=\s*-\s*\d+\s*$", rng)):
                    head = self.up_head(up_url, auth)
                if have_cond and head[0] == 200:
                    drop.update(COND_HEADERS)
                    verdict = self.preconditions(head[1])
                    if verdict is not None:
                        self.send_own(verdict, entry, False)
                        return
                    cond = head[1]
                elif have_cond:
                    drop.update(COND_HEADERS)
                if rng is not None:
                    plan = self.plan_range(rng, head)
                    drop.add("range")
                    if isinstance(plan, Resp):
                        self.send_own(plan, entry, False)
                        return
                    if plan is not None:
                        set_range, trim = plan
            hdrs = self.up_headers(auth, blen, has_body, drop=drop)
            if set_range:
                hdrs.append(("Range", set_range))
            resp = self.up_request(method, up_url, hdrs, body if has_body else None)
        except UpstreamGone as e:
            self.close_connection = True
            self.send_own(s3_error(502, "BadGateway", "upstream unreachable: %s" % e), entry, False)
            return
        self.relay(resp, entry, path, up_path, trim, cond)

    def plan_range(self, rng, head):
        """Normalise a Range header for s3rver. Returns None (send no Range),
        (range header value, trim or None), or a Resp (416)."""
        m = re.match(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", rng)
        if not m or (m.group(1) == "" and m.group(2) == ""):
            return None                      # unparsable / multi-range: ignored
        a, b = m.group(1), m.group(2)
        if a == "":                          # suffix: needs the size
            if head is None or head[0] != 200:
                return None
            size = int(head[1].get("content-length", "0"))
            n = int(b)
            if n == 0 or size == 0:
                return s3_error(416, "InvalidRange", "The requested range is not satisfiable",
                                [("RangeRequested", rng), ("ActualObjectSize", size)],
                                [("Content-Range", "bytes */%d" % size)])
            start, end = max(0, size - n), size - 1
        else:
            start = int(a)
            end = int(b) if b != "" else None
            if end is not None and end < start:
                return None                  # invalid: S3 ignores it
        if end == 0:                         # s3rver treats an end of 0 as "to EOF"
            return "bytes=%d-" % start, (start, 0)
        return ("bytes=%d-%s" % (start, "" if end is None else end)), None

    def preconditions(self, h):
        """S3 conditional GET/HEAD rules against the object's HEAD headers."""
        etag = (h.get("etag") or "").strip().strip('"')
        lm = parse_http_date(h.get("last-modified") or "")
        im = self.headers.get("If-Match")
        ius = self.headers.get("If-Unmodified-Since")
        inm = self.headers.get("If-None-Match")
        ims = self.headers.get("If-Modified-Since")
        if im is not None:
            tags = etag_list(im)
            if not ("*" in tags or etag in tags):
                return self.precondition_failed("If-Match")
        elif ius is not None:
            t = parse_http_date(ius)
            if t is not None and lm is not None and lm > t:
                return self.precondition_failed("If-Unmodified-Since")
        not_modified = False
        if inm is not None:
            tags = etag_list(inm)
            not_modified = "*" in tags or etag in tags
        elif ims is not None:
            t = parse_http_date(ims)
            not_modified = t is not None and lm is not None and lm <= t and t <= time.time()
        if not_modified:
            hdrs = []
            if h.get("etag"):
                hdrs.append(("ETag", h["etag"]))
            if h.get("last-modified"):
                hdrs.append(("Last-Modified", h["last-modified"]))
            return Resp(304, hdrs)
        return None

    def precondition_failed(self, which):
        return s3_error(412, "PreconditionFailed",
                        "At least one of the pre-conditions you specified did not hold",
                        [("Condition", which)])

    def relay(self, resp, entry, path, up_path, trim, cond):
        st = self.state
        status = resp.status
        headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP]
        is_head = self.command == "HEAD"
        cl = resp.getheader("Content-Length")
        buffered = None
        if not is_head and status not in (204, 304) and cl is None:
            buffered = resp.read()          # chunked / close-delimited: buffer it
            length = len(buffered)
        else:
            length = int(cl) if cl is not None else 0
        upstream_dirty = False
        # the object changed between our HEAD and this GET: re-check If-Match
        if cond is not None and status in (200, 206):
            new = (resp.getheader("ETag") or "").strip().strip('"')
            old = (cond.get("etag") or "").strip().strip('"')
            im = self.headers.get("If-Match")
            if new != old and im is not None and not ("*" in etag_list(im) or new in etag_list(im)):
                self.close_upstream()
                self.send_own(self.precondition_failed("If-Match"), entry, False)
                return
        rng = None
        cr = resp.getheader("Content-Range")
        if status == 206 and cr:
            m = re.match(r"bytes (\d+)-(\d+)/(\d+|\*)", cr)
            if m and m.group(3) == "0" and not st.raw:
                # s3rver on an empty object: "206, bytes 0-0/0, Content-Length: 1"
                # and then no body byte at all (the client hangs).  S3: 416.
                self.close_upstream()
                self.send_own(s3_error(416, "InvalidRange", "The requested range is not "
                                       "satisfiable", [("RangeRequested", self.headers.get("Range")),
                                                       ("ActualObjectSize", 0)],
                                       [("Content-Range", "bytes */0")]), entry, False)
                return
            if m:
                rng = [int(m.group(1)), int(m.group(2))]
                if trim is not None and rng[0] == trim[0] and rng[1] > trim[1]:
                    rng[1] = trim[1]
                    headers = [(k, v) for k, v in headers if k.lower() != "content-range"]
                    headers.append(("Content-Range", "bytes %d-%d/%s" % (rng[0], rng[1], m.group(3))))
                    upstream_dirty = length != rng[1] - rng[0] + 1
                    length = rng[1] - rng[0] + 1
        send_len = length
        body_len = 0 if is_head or status in (204, 304) else length
        fault = st.take_fault(path, up_path, POST_FAULTS, body_len)
        limit = body_len
        if fault:
            entry["fault"] = fault
            limit = body_len // 2
        sent = 0
        try:
            self.send_response_only(status)
            if not any(k.lower() == "date" for k, _ in headers):
                self.send_header("Date", self.date_time_string())
            for k, v in headers:
                self.send_header(k, v)
            if status not in (204, 304) or cl is not None:
                self.send_header("Content-Length", str(send_len))
            if fault or resp.will_close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if buffered is not None:
                self.wfile.write(buffered[:limit])
                sent = min(limit, len(buffered))
            elif body_len:
                while sent < limit:
                    buf = resp.read(min(CHUNK, limit - sent))
                    if not buf:
                        self.close_connection = True
                        upstream_dirty = True
                        break
                    self.wfile.write(buf)
                    sent += len(buf)
                if sent < length:
                    upstream_dirty = True
            else:
                resp.read()
        except OSError:
            self.close_connection = True
            upstream_dirty = True
            fault = fault if fault != "reset" else None
        if upstream_dirty or resp.will_close:
            self.close_upstream()
        if fault == "reset":
            self.abort_connection()
        elif fault == "short":
            try:
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        entry["status"] = status
        entry["range"] = rng
        entry["bytes"] = sent
        st.record(entry, False)

    # -- output of the proxy's own responses -----------------------------------------

    def send_own(self, resp, entry, control):
        sent = 0
        body = b"" if self.command == "HEAD" else resp.body
        try:
            self.send_response_only(resp.status)
            self.send_header("Date", self.date_time_string())
            for k, v in resp.headers:
                self.send_header(k, v)
            if resp.status != 304:
                self.send_header("Content-Length", str(len(body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if body:
                self.wfile.write(body)
                sent = len(body)
        except OSError:
            self.close_connection = True
        if resp.error:
            entry["error"] = resp.error
        entry["status"] = resp.status
        entry["bytes"] = sent
        self.state.record(entry, control)

    def abort_connection(self):
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.rfile.close()
            self.connection.close()
        except OSError:
            pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def main(argv=None):
    ap = argparse.ArgumentParser(description="SigV4-checking proxy in front of s3rver.")
    ap.add_argument("--upstream", required=True, help="http://HOST:PORT of s3rver")
    ap.add_argument("--port", type=int, default=0, help="0 = any free port")
    ap.add_argument("--port-file", help="write the bound port here (atomically)")
    ap.add_argument("--log", help="append JSON request log lines here")
    ap.add_argument("--cred", action="append", default=[], metavar="AKID:SECRET[:TOKEN]",
                    help="accepted credential (repeatable)")
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--allow-anonymous", action="append", default=[], metavar="BUCKET",
                    help="bucket readable (GET/HEAD) without a signature (repeatable)")
    ap.add_argument("--max-skew", type=float, default=900.0,
                    help="allowed x-amz-date skew in seconds (default 900)")
    ap.add_argument("--strict-encoding", action="store_true",
                    help="refuse signed requests whose wire path/query is not in the "
                         "strict SigV4 URI encoding")
    ap.add_argument("--max-keys", type=int, default=0, metavar="N",
                    help="cap ListObjectsV2 pages at N keys (default: upstream's 1000)")
    ap.add_argument("--raw", action="store_true",
                    help="no s3rver fix-ups (Range/conditional emulation)")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    if not args.cred:
        ap.error("at least one --cred is needed")

    Handler.state = State(args)
    Handler.verbose = args.verbose
    server = Server(("127.0.0.1", args.port), Handler)
    port = server.server_address[1]
    if args.port_file:
        tmp = "%s.tmp.%d" % (args.port_file, os.getpid())
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)
    if args.verbose:
        sys.stderr.write("s3proxy: listening on 127.0.0.1:%d -> %s\n" % (port, args.upstream))

    def on_signal(signum, frame):
        STOPPING.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
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
