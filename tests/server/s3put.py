#!/usr/bin/python3
"""Seed and mutate objects in an S3-compatible store with boto3 (aimfs tests).

Run:
    /usr/bin/python3 tests/server/s3put.py --endpoint URL --access-key A
        --secret-key S [--session-token T] [--region us-east-1] [--retries N]
        [--vhost] COMMAND ...

Commands (keys are printed/compared as exact UTF-8 strings):
  mkbucket NAME                 create a bucket (an existing one is fine)
  put BUCKET KEY FILE           PutObject; prints "KEY<TAB>SIZE<TAB>ETAG"
  putdir BUCKET PREFIX DIR      every file under DIR -> PREFIX/relative/path
                                (PREFIX "" -> relative/path); prints the count
  many BUCKET PREFIX N SIZE     N objects PREFIX/000000 .. PREFIX/N-1 (6-digit,
                                so lexical order = numeric order), SIZE bytes
                                each, content = sha256 stream seeded with the
                                key (deterministic); prints N
  ls BUCKET [PREFIX]            ListObjectsV2, following continuation tokens;
                                prints "KEY<TAB>SIZE<TAB>ETAG" per object
  get BUCKET KEY FILE [--range bytes=A-B]
                                GetObject to FILE ("-" = stdout); prints
                                "STATUS<TAB>SIZE<TAB>ETAG[<TAB>CONTENT-RANGE]"
                                on stderr
  rm BUCKET KEY                 DeleteObject
  req METHOD BUCKET [KEY] [-H 'Name: value' ...] [--query Q]
      [--unsigned-header 'Name: value' ...] [--send-path PATH]
      [--body FILE] [--send-body FILE] [--unsigned-payload] [--out FILE]
      [--date YYYYMMDDTHHMMSSZ] [--vhost]
                                one raw request signed with botocore's
                                S3SigV4Auth (path style, or virtual-hosted with
                                --vhost: Host BUCKET.localhost:PORT while still
                                connecting to the endpoint's address).  -H
                                headers are signed, --unsigned-header ones are
                                added after signing, --send-path puts a
                                different path on the wire than was signed,
                                --send-body a different body than was signed
                                (--body), --date signs as of that time.
                                Prints "STATUS" then "name: value" header lines
                                on stdout; the body goes to --out (default:
                                stdout after a blank line).

ETags are printed without the surrounding quotes. Every request uses path-style
addressing (unless --vhost) and Signature V4, so a checking proxy such as
tests/server/s3proxy.py verifies each one.  An S3 error exits 1 after printing
"s3put: CODE: message (HTTP STATUS)" on stderr; --secret-key is used as given
(a wrong one is how tests provoke SignatureDoesNotMatch).
"""

import argparse
import concurrent.futures
import hashlib
import http.client
import os
import signal
import sys
import urllib.parse

import boto3
import botocore.exceptions
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials


def det_bytes(seed, size):
    out = bytearray()
    i = 0
    while len(out) < size:
        out += hashlib.sha256(b"%s:%d" % (seed.encode(), i)).digest()
        i += 1
    return bytes(out[:size])


def client(args):
    cfg = Config(signature_version="s3v4", region_name=args.region,
                 s3={"addressing_style": "virtual" if args.vhost else "path"},
                 retries={"max_attempts": args.retries, "mode": "standard"},
                 max_pool_connections=16, connect_timeout=10, read_timeout=120)
    return boto3.session.Session().client(
        "s3", endpoint_url=args.endpoint, aws_access_key_id=args.access_key,
        aws_secret_access_key=args.secret_key, aws_session_token=args.session_token,
        region_name=args.region, config=cfg)


def etag(e):
    return (e or "").strip('"')


def cmd_mkbucket(s3, args):
    kw = {"Bucket": args.name}
    if args.region != "us-east-1":
        kw["CreateBucketConfiguration"] = {"LocationConstraint": args.region}
    try:
        s3.create_bucket(**kw)
    except botocore.exceptions.ClientError as e:
        if e.response.get("Error", {}).get("Code") not in ("BucketAlreadyOwnedByYou",
                                                           "BucketAlreadyExists"):
            raise


def put_file(s3, bucket, key, path):
    with open(path, "rb") as f:
        r = s3.put_object(Bucket=bucket, Key=key, Body=f)
    return etag(r.get("ETag"))


def cmd_put(s3, args):
    tag = put_file(s3, args.bucket, args.key, args.file)
    print("%s\t%d\t%s" % (args.key, os.path.getsize(args.file), tag))


def cmd_putdir(s3, args):
    prefix = args.prefix.strip("/")
    jobs = []
    for dirpath, dirnames, filenames in os.walk(args.dir):
        dirnames.sort()
        for fn in sorted(filenames):
            p = os.path.join(dirpath, fn)
            rel = os.path.relpath(p, args.dir).replace(os.sep, "/")
            jobs.append(((prefix + "/" + rel) if prefix else rel, p))
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        for f in [ex.submit(put_file, s3, args.bucket, k, p) for k, p in jobs]:
            f.result()
    print(len(jobs))


def cmd_many(s3, args):
    prefix = args.prefix.strip("/")

    def one(i):
        key = "%s/%06d" % (prefix, i) if prefix else "%06d" % i
        s3.put_object(Bucket=args.bucket, Key=key, Body=det_bytes(key, args.size))

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        for f in [ex.submit(one, i) for i in range(args.n)]:
            f.result()
    print(args.n)


def cmd_ls(s3, args):
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=args.bucket,
                                                         Prefix=args.prefix or "")
    out = sys.stdout
    for page in pages:
        for o in page.get("Contents", []):
            out.write("%s\t%d\t%s\n" % (o["Key"], o["Size"], etag(o.get("ETag"))))


def cmd_get(s3, args):
    kw = {"Bucket": args.bucket, "Key": args.key}
    if args.range:
        kw["Range"] = args.range
    r = s3.get_object(**kw)
    body = r["Body"]
    out = sys.stdout.buffer if args.file == "-" else open(args.file, "wb")
    n = 0
    try:
        for chunk in iter(lambda: body.read(1 << 20), b""):
            out.write(chunk)
            n += len(chunk)
    finally:
        if out is not sys.stdout.buffer:
            out.close()
    meta = r["ResponseMetadata"]
    line = "%d\t%d\t%s" % (meta["HTTPStatusCode"], n, etag(r.get("ETag")))
    if r.get("ContentRange"):
        line += "\t" + r["ContentRange"]
    print(line, file=sys.stderr)


def cmd_rm(s3, args):
    s3.delete_object(Bucket=args.bucket, Key=args.key)


def split_header(text):
    name, sep, value = text.partition(":")
    if not sep:
        raise SystemExit("s3put: header %r needs 'Name: value'" % text)
    return name.strip(), value.strip()


def cmd_req(args):
    ep = urllib.parse.urlsplit(args.endpoint)
    port = ep.port or (443 if ep.scheme == "https" else 80)
    key = urllib.parse.quote(args.key or "", safe="/~")
    if args.vhost:
        host = "%s.localhost:%d" % (args.bucket, port)
        path = "/" + key
    else:
        host = ep.netloc
        path = "/%s/%s" % (args.bucket, key) if args.key is not None else "/" + args.bucket
    url = "%s://%s%s%s" % (ep.scheme, host, path, "?" + args.query if args.query else "")
    body = b""
    if args.body:
        with open(args.body, "rb") as f:
            body = f.read()
    req = AWSRequest(method=args.method, url=url, data=body or None)
    req.headers["Host"] = host
    for h in args.header:
        n, v = split_header(h)
        req.headers[n] = v
    if args.unsigned_payload:
        req.headers["X-Amz-Content-SHA256"] = "UNSIGNED-PAYLOAD"
        req.context["payload_signing_enabled"] = False
    signer = S3SigV4Auth(Credentials(args.access_key, args.secret_key, args.session_token),
                         "s3", args.region)
    if args.date:
        # sign as of a given time (skew tests): patch the clock botocore reads
        import datetime
        import botocore.auth as ba
        fixed = datetime.datetime.strptime(args.date, "%Y%m%dT%H%M%SZ")

        class FixedDT(datetime.datetime):
            @classmethod
            def utcnow(cls):
                return fixed
        saved = ba.datetime.datetime
        ba.datetime.datetime = FixedDT
        try:
            signer.add_auth(req)
        finally:
            ba.datetime.datetime = saved
    else:
        signer.add_auth(req)
    for h in args.unsigned_header:
        n, v = split_header(h)
        req.headers[n] = v
    wire_path = (args.send_path if args.send_path is not None else path) + \
        ("?" + args.query if args.query else "")
    cls = http.client.HTTPSConnection if ep.scheme == "https" else http.client.HTTPConnection
    conn = cls(ep.hostname, port, timeout=60)
    conn.putrequest(args.method, wire_path, skip_host=True, skip_accept_encoding=True)
    for n, v in req.headers.items():
        conn.putheader(n, v.encode("utf-8") if isinstance(v, str) else v)
    if args.send_body is not None:
        with open(args.send_body, "rb") as f:
            body = f.read()
    if body or args.method in ("PUT", "POST"):
        conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body or None)
    resp = conn.getresponse()
    data = resp.read()
    out = sys.stdout
    out.write("%d\n" % resp.status)
    for n, v in resp.getheaders():
        out.write("%s: %s\n" % (n.lower(), v))
    out.flush()
    if args.out:
        with open(args.out, "wb") as f:
            f.write(data)
    else:
        out.write("\n")
        out.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    conn.close()
    return 0


def main(argv=None):
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # quiet under `| head`
    ap = argparse.ArgumentParser(description="Seed/mutate S3 objects with boto3.")
    ap.add_argument("--endpoint", required=True, help="e.g. http://127.0.0.1:PORT")
    ap.add_argument("--access-key", required=True)
    ap.add_argument("--secret-key", required=True)
    ap.add_argument("--session-token")
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--retries", type=int, default=3,
                    help="boto3 max_attempts (standard mode; default 3)")
    ap.add_argument("--vhost", action="store_true",
                    help="virtual-hosted addressing (boto3 commands need BUCKET.localhost "
                         "to resolve; req connects to the endpoint address anyway)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("mkbucket")
    p.add_argument("name")
    p = sub.add_parser("put")
    p.add_argument("bucket")
    p.add_argument("key")
    p.add_argument("file")
    p = sub.add_parser("putdir")
    p.add_argument("bucket")
    p.add_argument("prefix")
    p.add_argument("dir")
    p = sub.add_parser("many")
    p.add_argument("bucket")
    p.add_argument("prefix")
    p.add_argument("n", type=int)
    p.add_argument("size", type=int)
    p = sub.add_parser("ls")
    p.add_argument("bucket")
    p.add_argument("prefix", nargs="?", default="")
    p = sub.add_parser("get")
    p.add_argument("bucket")
    p.add_argument("key")
    p.add_argument("file")
    p.add_argument("--range")
    p = sub.add_parser("rm")
    p.add_argument("bucket")
    p.add_argument("key")
    p = sub.add_parser("req")
    p.add_argument("method")
    p.add_argument("bucket")
    p.add_argument("key", nargs="?")
    p.add_argument("-H", "--header", action="append", default=[])
    p.add_argument("--unsigned-header", action="append", default=[])
    p.add_argument("--query")
    p.add_argument("--send-path")
    p.add_argument("--body")
    p.add_argument("--send-body")
    p.add_argument("--unsigned-payload", action="store_true")
    p.add_argument("--out")
    p.add_argument("--date")
    p.add_argument("--vhost", action="store_true", default=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.cmd == "req":
        return cmd_req(args)
    s3 = client(args)
    try:
        globals()["cmd_" + args.cmd](s3, args)
    except botocore.exceptions.ClientError as e:
        err = e.response.get("Error", {})
        status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        print("s3put: %s: %s (HTTP %s)" % (err.get("Code"), err.get("Message"), status),
              file=sys.stderr)
        return 1
    except botocore.exceptions.BotoCoreError as e:
        print("s3put: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
