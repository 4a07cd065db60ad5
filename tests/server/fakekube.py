#!/usr/bin/python3
"""Fake Kubernetes API server for the aimfs reconciler tests.

Run:
    /usr/bin/python3 tests/server/fakekube.py [--port 0] [--port-file FILE]
        [--log FILE] [--token-file FILE] [--tls-cert PEM --tls-key PEM]
        [--bookmark-interval SECS] [--pvc-phase Bound|Pending] [--verbose]

It implements exactly the surface that aimfs-reconciler and kubectl (1.20
to 1.32, client-side apply) use, with the real API server's semantics where
a client can see them:

  discovery   /version /api /api/v1 /apis /apis/{g} /apis/{g}/{v}
              /openapi/v2 (an empty document, JSON or protobuf: kubectl then
              skips client-side schema validation), /openapi/v3 -> 404
  objects     core v1 namespaces, nodes, persistentvolumeclaims, events, configmaps,
              secrets (stringData folded into base64 data on write, as the
              real server does), serviceaccounts; coordination.k8s.io/v1 leases;
              apiextensions.k8s.io/v1 customresourcedefinitions; apps/v1
              daemonsets and deployments and rbac.authorization.k8s.io/v1
              roles and bindings (stored as given: enough for `kubectl
              apply -k packaging/k8s`); and every resource a stored CRD
              defines (served as soon as it is created)
  verbs       GET (object, list, watch), POST, PUT, PATCH (merge-patch,
              strategic-merge-patch as a merge patch that merges lists of
              maps by "name", json-patch), DELETE; the /status subresource
  semantics   resourceVersion (one counter) with 409 Conflict on a stale
              PUT or a PATCH that carries metadata.resourceVersion; 409
              AlreadyExists; generation bumped on spec changes only; status
              ignored by the main resource and only status taken by /status
              when the CRD has the subresource; finalizers and
              deletionTimestamp; garbage collection of dependents whose
              owners are all gone (background propagation); CRD schemas:
              defaults, pruning of unknown fields, type/enum/required/
              pattern/minLength/maxLength checks
              and the transition rule "self == oldSelf" (immutable fields);
              a new PersistentVolumeClaim gets status.phase --pvc-phase
              (Bound: a volume is bound at once, as with an Immediate
              storage class; Pending: as WaitForFirstConsumer, until a test
              PATCHes .../persistentvolumeclaims/NAME/status itself)
  watch       ?watch=1&resourceVersion=RV[&allowWatchBookmarks=true]
              [&timeoutSeconds=N]: replays events after RV, then streams;
              RV older than the compaction floor -> an ERROR event with a
              410 Status, as the real server sends it; bookmarks every
              --bookmark-interval seconds
  tables      Accept: ...;as=Table -> meta.k8s.io/v1 Table with a CRD's
              additionalPrinterColumns (dates as ages), Name/Age otherwise
  selectors   labelSelector (a=b, a!=b, a, !a) and fieldSelector
              (metadata.name, metadata.namespace)
  auth        with --token-file, "Authorization: Bearer T" must name one of
              the tokens in the file (one a line; read on every request, so a
              test can rotate it), else 401

Test control (no auth, never logged):
  POST /_fault {"kind": "409"|"500"|"410", "match": "substring",
                "method": "PATCH", "count": N}   the next N matching requests
                fail with that code (409 as a resourceVersion conflict)
  POST /_fault {"kind": "conflict", "match": ..., "count": N}   as 409, but
                a write (PUT, PATCH) to an object first has the object
                modified by "another writer" (an annotation changes: a new
                resourceVersion and a MODIFIED event), as a real conflict
                does; a retry that reuses the old resourceVersion then fails
                on its own. The log line says "bumped_to": the new RV
  POST /_fault {"kind": "drop"}    cut every open watch stream (no final chunk)
  POST /_fault {"kind": "hold"}    open watches stop sending events (they are
                                   still recorded, so a later watch from an
                                   older resourceVersion replays them)
  POST /_fault {"kind": "gone"}    compact: history before now is dropped,
                                   open watches get a 410 ERROR event and end,
                                   a watch from an older RV gets 410
  POST /_fault {"kind": "clear"}   drop queued faults and the hold
  GET  /_stats                     {"watches": open watch streams, "rv": N}

Request log (--log): one JSON object per line:
  {"t": 1700000000.1, "method": "PATCH", "path": "/apis/...", "query": "...",
   "status": 200, "ua": "...", "watch": false[, "phase": "Progressing",
   "downloaded": N, "total": N][, "event": "410"|"drop"][, "sent": [...]]}
"phase"/"downloaded"/"total" are the object's status.status and
status.progress after a successful write; "rv" is the
metadata.resourceVersion a PUT or PATCH body carried. "sent" (watches) lists what the
stream sent, in order, as [type, resourceVersion] pairs: events and
BOOKMARKs. The token is never logged.

Standard library only; meant to be run with Debian's /usr/bin/python3.
"""

import argparse
import base64
import copy
import datetime
import http.server
import json
import os
import re
import signal
import socket
import ssl
import sys
import threading
import time
import urllib.parse
import uuid

STOPPING = threading.Event()
HISTORY = 20000  # watch events kept for replay


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(s):
    try:
        return datetime.datetime.strptime(s[:19], "%Y-%m-%dT%H:%M:%S").replace(
            tzinfo=datetime.timezone.utc)
    except (TypeError, ValueError):
        return None


def human_age(ts):
    t = parse_time(ts)
    if t is None:
        return "<unknown>"
    s = int((datetime.datetime.now(datetime.timezone.utc) - t).total_seconds())
    if s < 0:
        s = 0
    if s < 120:
        return "%ds" % s
    m = s // 60
    if m < 10:
        return "%dm%ds" % (m, s % 60) if s % 60 else "%dm" % m
    if m < 180:
        return "%dm" % m
    h = m // 60
    if h < 48:
        return "%dh" % h
    return "%dd" % (h // 24)


class ApiError(Exception):
    def __init__(self, code, reason, message, details=None):
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message
        self.details = details or {}

    def status(self):
        return {"kind": "Status", "apiVersion": "v1", "metadata": {},
                "status": "Failure", "message": self.message,
                "reason": self.reason, "details": self.details,
                "code": self.code}


class Res:
    """A served resource type."""

    def __init__(self, group, version, plural, kind, namespaced,
                 singular=None, short=None, status_sub=False, columns=None,
                 schema=None, categories=None):
        self.group, self.version, self.plural = group, version, plural
        self.kind, self.namespaced = kind, namespaced
        self.singular = singular or kind.lower()
        self.short = short or []
        self.status_sub = status_sub
        self.columns = columns
        self.schema = schema
        self.categories = categories or []

    @property
    def gv(self):
        return "%s/%s" % (self.group, self.version) if self.group else self.version

    @property
    def key(self):
        return (self.group, self.plural)

    def discovery(self):
        out = [{"name": self.plural, "singularName": self.singular,
                "namespaced": self.namespaced, "kind": self.kind,
                "verbs": ["create", "delete", "deletecollection", "get", "list",
                          "patch", "update", "watch"]}]
        if self.short:
            out[0]["shortNames"] = self.short
        if self.categories:
            out[0]["categories"] = self.categories
        if self.status_sub:
            out.append({"name": self.plural + "/status", "singularName": "",
                        "namespaced": self.namespaced, "kind": self.kind,
                        "verbs": ["get", "patch", "update"]})
        return out


BUILTIN = [
    Res("", "v1", "namespaces", "Namespace", False, short=["ns"], status_sub=True),
    Res("", "v1", "nodes", "Node", False, short=["no"], status_sub=True),
    Res("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True,
        short=["pvc"], status_sub=True),
    Res("", "v1", "events", "Event", True, short=["ev"]),
    Res("", "v1", "configmaps", "ConfigMap", True, short=["cm"]),
    Res("", "v1", "secrets", "Secret", True),
    Res("", "v1", "serviceaccounts", "ServiceAccount", True, short=["sa"]),
    Res("apps", "v1", "daemonsets", "DaemonSet", True, short=["ds"], status_sub=True),
    Res("apps", "v1", "deployments", "Deployment", True, short=["deploy"],
        status_sub=True),
    Res("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    Res("rbac.authorization.k8s.io", "v1", "clusterrolebindings",
        "ClusterRoleBinding", False),
    Res("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    Res("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    Res("coordination.k8s.io", "v1", "leases", "Lease", True),
    Res("apiextensions.k8s.io", "v1", "customresourcedefinitions",
        "CustomResourceDefinition", False, short=["crd", "crds"], status_sub=True),
]


# --- patches -------------------------------------------------------------

def fold_string_data(res, obj):
    """A Secret's stringData is write-only: merged into data, base64."""
    if res.kind != "Secret":
        return
    sd = obj.pop("stringData", None) or {}
    data = obj.get("data") or {}
    for k, v in sd.items():
        data[k] = base64.b64encode(str(v).encode()).decode()
    for k, v in list(data.items()):
        try:
            base64.b64decode(v, validate=True)
        except (ValueError, TypeError):
            raise ApiError(422, "Invalid", "Secret data[%s]: illegal base64 data" % k)
    if data:
        obj["data"] = data
    obj.setdefault("type", "Opaque")


def merge_patch(target, patch):
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    out = dict(target)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def strategic_patch(target, patch):
    """Enough of strategic merge for kubectl apply: directives dropped,
    lists of maps that all have a "name" merged by name."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: v for k, v in patch.items() if not k.startswith("$")}
    if patch.get("$patch") == "delete":
        return None
    if not isinstance(target, dict):
        target = {}
    out = dict(target)
    for k, v in patch.items():
        if k.startswith("$"):
            continue
        if v is None:
            out.pop(k, None)
        elif (isinstance(v, list) and isinstance(out.get(k), list) and v
              and all(isinstance(x, dict) and "name" in x for x in v)
              and all(isinstance(x, dict) and "name" in x for x in out[k])):
            merged = {x["name"]: x for x in out[k]}
            order = [x["name"] for x in out[k]]
            for x in v:
                if x.get("$patch") == "delete":
                    merged.pop(x["name"], None)
                    continue
                if x["name"] not in merged:
                    order.append(x["name"])
                merged[x["name"]] = strategic_patch(merged.get(x["name"]), x)
            out[k] = [merged[n] for n in order if n in merged]
        else:
            out[k] = strategic_patch(out.get(k), v)
    return out


def json_pointer(doc, ptr):
    if ptr == "":
        return None, None
    parts = [p.replace("~1", "/").replace("~0", "~") for p in ptr.split("/")[1:]]
    parent = doc
    for p in parts[:-1]:
        parent = parent[int(p)] if isinstance(parent, list) else parent[p]
    return parent, parts[-1]


def json_patch(doc, ops):
    doc = copy.deepcopy(doc)
    for op in ops:
        kind, path = op.get("op"), op.get("path", "")
        try:
            parent, last = json_pointer(doc, path)
            if kind == "test":
                cur = parent[int(last)] if isinstance(parent, list) else parent.get(last)
                if cur != op.get("value"):
                    raise ApiError(422, "Invalid", "the server rejected our request "
                                   "due to an error in our request: test failed at " + path)
            elif kind in ("add", "replace"):
                if isinstance(parent, list):
                    if last == "-":
                        parent.append(op["value"])
                    elif kind == "add":
                        parent.insert(int(last), op["value"])
                    else:
                        parent[int(last)] = op["value"]
                else:
                    if kind == "replace" and last not in parent:
                        raise KeyError(last)
                    parent[last] = op["value"]
            elif kind == "remove":
                if isinstance(parent, list):
                    del parent[int(last)]
                else:
                    del parent[last]
            else:
                raise ApiError(422, "Invalid", "unsupported json-patch op %r" % kind)
        except (KeyError, IndexError, ValueError, TypeError):
            raise ApiError(422, "Invalid", "json-patch %s at %s failed" % (kind, path))
    return doc


# --- CRD schemas: defaults, pruning, checks ---------------------------------

def schema_apply(schema, value, path, errors, old=None, has_old=False):
    """Default, prune and check value against a structural schema; returns
    the value to store."""
    if schema is None:
        return value
    t = schema.get("type")
    if schema.get("x-kubernetes-int-or-string"):
        if not isinstance(value, (int, str)) or isinstance(value, bool):
            errors.append("%s: must be an integer or a string" % path)
        return value
    if t == "object":
        if not isinstance(value, dict):
            errors.append("%s: Invalid value: must be an object" % path)
            return value
        props = schema.get("properties")
        addl = schema.get("additionalProperties")
        keep = schema.get("x-kubernetes-preserve-unknown-fields")
        out = {}
        for k, v in value.items():
            if props and k in props:
                o = old.get(k) if isinstance(old, dict) else None
                ho = has_old and isinstance(old, dict) and k in old
                out[k] = schema_apply(props[k], v, path + "." + k, errors, o, ho)
            elif isinstance(addl, dict):
                o = old.get(k) if isinstance(old, dict) else None
                ho = has_old and isinstance(old, dict) and k in old
                out[k] = schema_apply(addl, v, path + "." + k, errors, o, ho)
            elif keep or addl is True or (props is None and addl is None):
                out[k] = v
            # else: pruned, as the real server does
        for k, p in (props or {}).items():
            if k not in out and "default" in p:
                out[k] = copy.deepcopy(p["default"])
        for k in schema.get("required", []):
            if k not in out:
                errors.append("%s.%s: Required value" % (path, k))
        value = out
    elif t == "array":
        if not isinstance(value, list):
            errors.append("%s: Invalid value: must be an array" % path)
            return value
        items = schema.get("items")
        value = [schema_apply(items, v, "%s[%d]" % (path, i), errors)
                 for i, v in enumerate(value)]
    elif t == "string":
        if not isinstance(value, str):
            errors.append("%s: Invalid value: must be a string" % path)
        elif "enum" in schema and value not in schema["enum"]:
            errors.append('%s: Unsupported value: "%s": supported values: %s' % (
                path, value, ", ".join('"%s"' % e for e in schema["enum"])))
        elif "minLength" in schema and len(value) < schema["minLength"]:
            errors.append("%s: Invalid value: should be at least %d chars long" %
                          (path, schema["minLength"]))
        elif "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append("%s: Too long: may not be longer than %d" %
                          (path, schema["maxLength"]))
        elif "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append('%s: Invalid value: "%s": should match \'%s\'' %
                          (path, value, schema["pattern"]))
    elif t == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            errors.append("%s: Invalid value: must be an integer" % path)
        elif "minimum" in schema and value < schema["minimum"]:
            errors.append("%s: Invalid value: must be >= %s" % (path, schema["minimum"]))
    elif t == "boolean":
        if not isinstance(value, bool):
            errors.append("%s: Invalid value: must be a boolean" % path)
    if has_old:
        for rule in schema.get("x-kubernetes-validations", []):
            if rule.get("rule", "").replace(" ", "") == "self==oldSelf" and value != old:
                errors.append("%s: Invalid value: %s" % (
                    path, rule.get("message", "failed rule: self == oldSelf")))
    return value


# --- the server's state -------------------------------------------------------

class State:
    def __init__(self, args):
        self.lock = threading.Condition()
        self.rv = 100
        self.floor = 100          # watches from an RV below this get 410
        self.events = []          # (rv, reskey, ns, type, obj)
        self.resources = {}       # (group, plural) -> Res
        self.objects = {}         # (group, plural) -> {(ns, name): obj}
        self.faults = []
        self.hold = False
        self.drop_gen = 0
        self.gone_gen = 0
        self.watches = 0
        self.token_file = args.token_file
        self.logf = open(args.log, "a") if args.log else None
        self.log_lock = threading.Lock()
        self.bookmark = args.bookmark_interval
        self.pvc_phase = args.pvc_phase
        for r in BUILTIN:
            self.add_res(r)
        for ns in ("default", "kube-system", "aimfs-system"):
            self.objects[("", "namespaces")][("", ns)] = {
                "apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": ns, "uid": str(uuid.uuid4()),
                             "resourceVersion": "1",
                             "creationTimestamp": now_rfc3339()},
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"}}

    def add_res(self, r):
        self.resources[r.key] = r
        self.objects.setdefault(r.key, {})

    def log(self, rec):
        if not self.logf:
            return
        rec["t"] = round(time.time(), 3)
        with self.log_lock:
            self.logf.write(json.dumps(rec) + "\n")
            self.logf.flush()

    def tokens(self):
        if not self.token_file:
            return None
        try:
            with open(self.token_file) as f:
                return {ln.strip() for ln in f if ln.strip()}
        except OSError:
            return set()

    def take_fault(self, method, path):
        with self.lock:
            for f in self.faults:
                if f["kind"] not in ("409", "500", "410", "conflict"):
                    continue
                if f.get("method") and f["method"] != method:
                    continue
                if f.get("match") and f["match"] not in path:
                    continue
                f["count"] -= 1
                if f["count"] <= 0:
                    self.faults.remove(f)
                return f["kind"]
        return None

    def control(self, req):
        kind = req.get("kind")
        with self.lock:
            if kind == "clear":
                self.faults = []
                self.hold = False
            elif kind in ("409", "500", "410", "conflict"):
                self.faults.append({"kind": kind, "match": req.get("match"),
                                    "method": req.get("method"),
                                    "count": int(req.get("count", 1))})
            elif kind == "drop":
                self.drop_gen += 1
                self.hold = False
            elif kind == "hold":
                self.hold = True
            elif kind == "gone":
                self.floor = self.rv + 1
                self.events = []
                self.gone_gen += 1
                self.hold = False
            else:
                raise ApiError(400, "BadRequest", "unknown fault kind %r" % kind)
            self.lock.notify_all()

    # -- objects ----------------------------------------------------------
    def record(self, res, ns, etype, obj):
        """Called with the lock held after a change; obj is stored."""
        self.events.append((int(obj["metadata"]["resourceVersion"]), res.key, ns,
                            etype, copy.deepcopy(obj)))
        if len(self.events) > HISTORY:
            drop = len(self.events) - HISTORY
            self.floor = self.events[drop - 1][0] + 1
            del self.events[:drop]
        self.lock.notify_all()

    def bump(self, obj):
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)

    def crd_changed(self, crd, deleted=False):
        spec = crd.get("spec", {})
        group, names = spec.get("group"), spec.get("names", {})
        key = (group, names.get("plural"))
        if deleted:
            self.resources.pop(key, None)
            self.objects.pop(key, None)
            return
        for v in spec.get("versions", []):
            if not v.get("served", True):
                continue
            r = Res(group, v["name"], names["plural"], names["kind"],
                    spec.get("scope", "Namespaced") == "Namespaced",
                    singular=names.get("singular"), short=names.get("shortNames"),
                    status_sub="status" in (v.get("subresources") or {}),
                    columns=v.get("additionalPrinterColumns"),
                    schema=(v.get("schema") or {}).get("openAPIV3Schema"),
                    categories=names.get("categories"))
            if v.get("storage", True):
                self.add_res(r)
        crd["status"] = {
            "acceptedNames": names,
            "storedVersions": [v["name"] for v in spec.get("versions", [])
                               if v.get("storage")],
            "conditions": [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
                 "message": "no conflicts found", "lastTransitionTime": now_rfc3339()},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                 "message": "the initial names have been accepted",
                 "lastTransitionTime": now_rfc3339()}]}

    def validate(self, res, obj, old=None):
        if res.schema is None:
            return obj
        errors = []
        body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
        oldbody = None
        if old is not None:
            oldbody = {k: v for k, v in old.items() if k not in ("apiVersion", "kind", "metadata")}
        schema = dict(res.schema)
        props = dict(schema.get("properties") or {})
        for k in ("apiVersion", "kind", "metadata"):
            props.pop(k, None)
        schema["properties"] = props
        out = schema_apply(schema, body, "", errors, oldbody, old is not None)
        if errors:
            name = obj.get("metadata", {}).get("name", "")
            causes = []
            for e in errors:
                field, _, msg = e.lstrip(".").partition(": ")
                causes.append({"reason": "FieldValueInvalid", "message": msg,
                               "field": field})
            raise ApiError(422, "Invalid", '%s "%s" is invalid: %s' % (
                res.kind, name, ", ".join(e.lstrip(".") for e in errors)),
                {"name": name, "group": res.group, "kind": res.kind,
                 "causes": causes})
        out.update({k: obj[k] for k in ("apiVersion", "kind", "metadata") if k in obj})
        return out

    def create(self, res, ns, obj):
        meta = obj.setdefault("metadata", {})
        if not meta.get("name"):
            if meta.get("generateName"):
                meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
            else:
                raise ApiError(422, "Invalid", "metadata.name: Required value")
        if res.namespaced:
            if meta.get("namespace") and meta["namespace"] != ns:
                raise ApiError(400, "BadRequest", "the namespace of the provided "
                               "object does not match the namespace sent on the request")
            meta["namespace"] = ns
        else:
            meta.pop("namespace", None)
        obj["apiVersion"], obj["kind"] = res.gv, res.kind
        key = (ns if res.namespaced else "", meta["name"])
        with self.lock:
            store = self.objects[res.key]
            if key in store:
                raise ApiError(409, "AlreadyExists", '%s "%s" already exists' % (
                    self.qual(res), meta["name"]),
                    {"name": meta["name"], "group": res.group, "kind": res.plural})
            if res.status_sub and res.group not in ("", "apiextensions.k8s.io"):
                obj.pop("status", None)
            fold_string_data(res, obj)
            obj = self.validate(res, obj)
            meta = obj["metadata"]
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_rfc3339()
            meta["generation"] = 1
            for k in ("deletionTimestamp", "resourceVersion", "selfLink"):
                meta.pop(k, None)
            if res.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
                self.crd_changed(obj)
            if res.kind == "PersistentVolumeClaim":
                obj["status"] = {"phase": self.pvc_phase}
            self.bump(obj)
            store[key] = obj
            self.record(res, key[0], "ADDED", obj)
            return copy.deepcopy(obj)

    def qual(self, res):
        return res.plural + ("." + res.group if res.group else "")

    def get(self, res, ns, name):
        with self.lock:
            obj = self.objects[res.key].get((ns if res.namespaced else "", name))
            if obj is None:
                raise self.notfound(res, name)
            return copy.deepcopy(obj)

    def notfound(self, res, name):
        return ApiError(404, "NotFound", '%s "%s" not found' % (self.qual(res), name),
                        {"name": name, "group": res.group, "kind": res.plural})

    def update(self, res, ns, name, fn, sub=None, precondition=None):
        """fn(current copy) -> new object; runs under the lock."""
        key = (ns if res.namespaced else "", name)
        with self.lock:
            store = self.objects[res.key]
            cur = store.get(key)
            if cur is None:
                raise self.notfound(res, name)
            new = fn(copy.deepcopy(cur))
            if not isinstance(new, dict):
                raise ApiError(422, "Invalid", "the patch leaves no object")
            nm = new.setdefault("metadata", {})
            want = nm.get("resourceVersion")
            if precondition == "required" and not want:
                raise ApiError(422, "Invalid", '%s "%s" is invalid: metadata.'
                               'resourceVersion: Invalid value: 0x0: must be '
                               'specified for an update' % (self.qual(res), name))
            if want and want != cur["metadata"]["resourceVersion"]:
                raise self.conflict(res, name)
            if nm.get("name", name) != name:
                raise ApiError(400, "BadRequest", "the name of the object does "
                               "not match the name on the URL")
            # fields the client cannot change
            for k in ("uid", "creationTimestamp", "namespace", "name",
                      "deletionTimestamp", "generation"):
                if k in cur["metadata"]:
                    nm[k] = cur["metadata"][k]
                else:
                    nm.pop(k, None)
            new["apiVersion"], new["kind"] = res.gv, res.kind
            if res.status_sub and sub == "status":
                keep = copy.deepcopy(cur)
                if "status" in new:
                    keep["status"] = new["status"]
                else:
                    keep.pop("status", None)
                new = keep
            elif res.status_sub and sub is None and res.group != "apiextensions.k8s.io":
                if "status" in cur:
                    new["status"] = copy.deepcopy(cur["status"])
                else:
                    new.pop("status", None)
            fold_string_data(res, new)
            new = self.validate(res, new, cur)
            if res.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
                self.crd_changed(new)
            strip = lambda o: {k: v for k, v in o.items()
                               if k not in ("metadata", "status")}
            if strip(new) != strip(cur):
                new["metadata"]["generation"] = cur["metadata"].get("generation", 1) + 1
            if new == cur:
                return copy.deepcopy(cur)  # a no-op write keeps the RV
            self.bump(new)
            meta = new["metadata"]
            if meta.get("deletionTimestamp") and not meta.get("finalizers"):
                del store[key]
                self.record(res, key[0], "DELETED", new)
                self.collect(new)
            else:
                store[key] = new
                self.record(res, key[0], "MODIFIED", new)
            return copy.deepcopy(new)

    def conflict(self, res, name):
        return ApiError(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": '
                        "the object has been modified; please apply your changes "
                        "to the latest version and try again" % (self.qual(res), name),
                        {"name": name, "group": res.group, "kind": res.plural})

    def delete(self, res, ns, name, precondition_rv=None):
        key = (ns if res.namespaced else "", name)
        with self.lock:
            store = self.objects[res.key]
            cur = store.get(key)
            if cur is None:
                raise self.notfound(res, name)
            if precondition_rv and precondition_rv != cur["metadata"]["resourceVersion"]:
                raise self.conflict(res, name)
            return self.delete_locked(res, key, cur)

    def delete_locked(self, res, key, cur):
        store = self.objects[res.key]
        meta = cur["metadata"]
        if meta.get("finalizers"):
            if not meta.get("deletionTimestamp"):
                meta["deletionTimestamp"] = now_rfc3339()
                meta["deletionGracePeriodSeconds"] = 0
                self.bump(cur)
                self.record(res, key[0], "MODIFIED", cur)
            return copy.deepcopy(cur)
        del store[key]
        self.bump(cur)
        self.record(res, key[0], "DELETED", cur)
        if res.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
            self.crd_changed(cur, deleted=True)
        self.collect(cur)
        return copy.deepcopy(cur)

    def collect(self, gone):
        """Garbage collector: dependents lose the reference to a deleted
        owner and are deleted when no owner is left."""
        uid = gone["metadata"].get("uid")
        for rk, store in list(self.objects.items()):
            res = self.resources.get(rk)
            if res is None:
                continue
            for key, obj in list(store.items()):
                refs = obj["metadata"].get("ownerReferences") or []
                if not any(r.get("uid") == uid for r in refs):
                    continue
                left = [r for r in refs if r.get("uid") != uid]
                if left:
                    obj["metadata"]["ownerReferences"] = left
                    self.bump(obj)
                    self.record(res, key[0], "MODIFIED", obj)
                else:
                    self.delete_locked(res, key, obj)

    def list(self, res, ns, lsel, fsel):
        with self.lock:
            items = []
            for (ons, name), obj in sorted(self.objects[res.key].items()):
                if ns and res.namespaced and ons != ns:
                    continue
                if matches(obj, lsel, fsel):
                    items.append(copy.deepcopy(obj))
            return items, self.rv


def parse_selector(s):
    out = []
    for part in filter(None, (p.strip() for p in (s or "").split(","))):
        m = re.match(r"^(!?)([^=!]+?)\s*(?:(==|=|!=)\s*(.*))?$", part)
        if not m:
            raise ApiError(400, "BadRequest", "unable to parse requirement: " + part)
        out.append((m.group(1) == "!", m.group(2), m.group(3), m.group(4)))
    return out


def matches(obj, lsel, fsel):
    labels = obj.get("metadata", {}).get("labels") or {}
    for neg, k, op, v in lsel:
        if op is None:
            if (k in labels) == neg:
                return False
        elif op == "!=":
            if labels.get(k) == v:
                return False
        elif labels.get(k) != v:
            return False
    for neg, k, op, v in fsel:
        cur = obj
        for p in k.split("."):
            cur = cur.get(p) if isinstance(cur, dict) else None
        if (op == "!=") == (cur == v):
            return False
    return True


def jsonpath(obj, path):
    cur = obj
    for p in [x for x in path.strip().lstrip(".").split(".") if x]:
        if not isinstance(cur, dict):
            return None
        cur = cur.get(p)
    return cur


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    st = None
    verbose = False

    def log_message(self, fmt, *args):
        if self.verbose:
            sys.stderr.write("fakekube: " + (fmt % args) + "\n")

    def do_GET(self):
        self.serve()

    def do_POST(self):
        self.serve()

    def do_PUT(self):
        self.serve()

    def do_PATCH(self):
        self.serve()

    def do_DELETE(self):
        self.serve()

    # -- plumbing --------------------------------------------------------
    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if not raw:
            return None
        ctype = self.headers.get("Content-Type", "")
        if "yaml" in ctype:
            raise ApiError(415, "UnsupportedMediaType",
                           "the fake API server does not speak server-side apply")
        try:
            return json.loads(raw)
        except ValueError:
            raise ApiError(400, "BadRequest", "the body is not JSON")

    def send_json(self, code, obj, ctype="application/json"):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.code = code

    def serve(self):
        u = urllib.parse.urlsplit(self.path)
        path = u.path.rstrip("/") or "/"
        q = dict(urllib.parse.parse_qsl(u.query, keep_blank_values=True))
        self.code = 0
        self.extra = {}
        is_watch = q.get("watch") in ("1", "true")
        try:
            if path.startswith("/_"):
                return self.serve_control(path)
            tokens = self.st.tokens()
            if tokens is not None:
                auth = self.headers.get("Authorization", "")
                if not auth.startswith("Bearer ") or auth[7:].strip() not in tokens:
                    raise ApiError(401, "Unauthorized", "Unauthorized")
            fault = self.st.take_fault(self.command, self.path)
            self.conflict_fault = fault == "conflict"
            if fault == "conflict" and self.command not in ("PUT", "PATCH"):
                fault = "409"
            if fault == "409":
                raise ApiError(409, "Conflict", "Operation cannot be fulfilled: the "
                               "object has been modified; please apply your changes "
                               "to the latest version and try again")
            if fault == "500":
                raise ApiError(500, "InternalError", "injected failure")
            if fault == "410":
                raise ApiError(410, "Expired", "too old resource version")
            self.route(path, q, is_watch)
        except ApiError as e:
            self.send_json(e.code, e.status())
        except (ConnectionError, BrokenPipeError, socket.timeout):
            self.close_connection = True
            self.code = self.code or 499
        finally:
            if not path.startswith("/_"):
                rec = {"method": self.command, "path": path, "query": u.query,
                       "status": self.code, "ua": self.headers.get("User-Agent", ""),
                       "watch": is_watch}
                rec.update(self.extra)
                self.st.log(rec)

    def serve_control(self, path):
        if path == "/_fault" and self.command == "POST":
            self.st.control(self.body() or {})
            return self.send_json(200, {"ok": True})
        if path == "/_fault":
            with self.st.lock:
                return self.send_json(200, {"faults": self.st.faults, "hold": self.st.hold})
        if path == "/_stats":
            with self.st.lock:
                return self.send_json(200, {"watches": self.st.watches, "rv": self.st.rv})
        raise ApiError(404, "NotFound", "no such control endpoint")

    # -- discovery -------------------------------------------------------
    def groups(self):
        out = {}
        for r in self.st.resources.values():
            if r.group:
                out.setdefault(r.group, set()).add(r.version)
        return out

    def route(self, path, q, is_watch):
        parts = path.strip("/").split("/") if path != "/" else []
        if path == "/version":
            return self.send_json(200, {"major": "1", "minor": "30", "gitVersion": "v1.30.0-fake",
                                        "platform": "linux/amd64"})
        if path in ("/healthz", "/readyz", "/livez"):
            data = b"ok"
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(data)
            self.code = 200
            return
        if path == "/openapi/v2":
            return self.openapi_v2()
        if path == "/api":
            return self.send_json(200, {"kind": "APIVersions", "versions": ["v1"],
                                        "serverAddressByClientCIDRs": [
                                            {"clientCIDR": "0.0.0.0/0",
                                             "serverAddress": "127.0.0.1"}]})
        if path == "/apis":
            groups = []
            for g, vs in sorted(self.groups().items()):
                groups.append(self.group_doc(g, vs))
            return self.send_json(200, {"kind": "APIGroupList", "apiVersion": "v1",
                                        "groups": groups})
        if parts[:1] == ["apis"] and len(parts) == 2:
            vs = self.groups().get(parts[1])
            if not vs:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            doc = self.group_doc(parts[1], vs)
            doc.update({"kind": "APIGroup", "apiVersion": "v1"})
            return self.send_json(200, doc)
        if parts == ["api", "v1"]:
            return self.resource_list("", "v1")
        if parts[:1] == ["apis"] and len(parts) == 3:
            return self.resource_list(parts[1], parts[2])
        if parts[:2] == ["api", "v1"]:
            return self.serve_object("", "v1", parts[2:], q, is_watch)
        if parts[:1] == ["apis"] and len(parts) > 3:
            return self.serve_object(parts[1], parts[2], parts[3:], q, is_watch)
        raise ApiError(404, "NotFound", "the server could not find the requested resource")

    def group_doc(self, g, vs):
        vers = [{"groupVersion": "%s/%s" % (g, v), "version": v} for v in sorted(vs)]
        return {"name": g, "versions": vers, "preferredVersion": vers[0]}

    def resource_list(self, group, version):
        res = [r for r in self.st.resources.values()
               if r.group == group and r.version == version]
        if not res:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        out = []
        for r in sorted(res, key=lambda r: r.plural):
            out.extend(r.discovery())
        return self.send_json(200, {"kind": "APIResourceList", "apiVersion": "v1",
                                    "groupVersion": res[0].gv, "resources": out})

    def openapi_v2(self):
        accept = self.headers.get("Accept", "")
        if "protobuf" in accept:
            # an empty protobuf message is an empty openapi_v2.Document
            self.send_response(200)
            self.send_header("Content-Type", "application/com.github.proto-openapi.spec.v2.v1.0+protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()
            self.code = 200
            return
        return self.send_json(200, {"swagger": "2.0", "info": {"title": "fakekube",
                                                               "version": "v1"},
                                    "paths": {}, "definitions": {}})

    # -- objects ---------------------------------------------------------
    def serve_object(self, group, version, rest, q, is_watch):
        ns = ""
        if len(rest) >= 3 and rest[0] == "namespaces":
            ns, rest = rest[1], rest[2:]
        plural = rest[0]
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        res = self.st.resources.get((group, plural))
        if res is None or res.version != version or len(rest) > 3:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if sub not in (None, "status") or (sub == "status" and not res.status_sub):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if ns and not res.namespaced:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        m = self.command
        if name is None:
            if m == "GET" and is_watch:
                return self.watch(res, ns, q)
            if m == "GET":
                return self.list(res, ns, q)
            if m == "POST":
                if res.namespaced and not ns:
                    raise ApiError(405, "MethodNotAllowed", "the server does not allow "
                                   "this method on the requested resource")
                obj = self.body() or {}
                out = self.st.create(res, ns, obj)
                self.note(out)
                return self.send_json(201, out)
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this "
                           "method on the requested resource")
        if m == "GET":
            obj = self.st.get(res, ns, name)
            if self.wants_table():
                return self.send_json(200, self.table(res, [obj], obj["metadata"]["resourceVersion"]))
            return self.send_json(200, obj)
        if m in ("PUT", "PATCH"):
            body = self.body()
            self.note_rv(body)
            if self.conflict_fault:
                self.conflict_fault = False
                self.another_writer(res, ns, name)
        if m == "PUT":
            body = body or {}
            out = self.st.update(res, ns, name, lambda cur: body, sub, "required")
            self.note(out)
            return self.send_json(200, out)
        if m == "PATCH":
            patch = body
            ctype = self.headers.get("Content-Type", "").split(";")[0].strip()
            if ctype == "application/merge-patch+json":
                fn = lambda cur: merge_patch(cur, patch)
            elif ctype == "application/strategic-merge-patch+json":
                if res.group == "aimfs.io" or res.schema is not None:
                    raise ApiError(415, "UnsupportedMediaType", "strategic merge patch is not "
                                   "supported for custom resources")
                fn = lambda cur: strategic_patch(cur, patch)
            elif ctype == "application/json-patch+json":
                fn = lambda cur: json_patch(cur, patch or [])
            else:
                raise ApiError(415, "UnsupportedMediaType", "the body of the request "
                               "was in an unknown format - accepted media types "
                               "include: application/json-patch+json, "
                               "application/merge-patch+json")
            out = self.st.update(res, ns, name, fn, sub)
            self.note(out)
            return self.send_json(200, out)
        if m == "DELETE":
            body = self.body() or {}
            pre = (body.get("preconditions") or {}).get("resourceVersion")
            out = self.st.delete(res, ns, name, pre)
            self.note(out)
            return self.send_json(200, out)
        raise ApiError(405, "MethodNotAllowed", "method not allowed")

    def note_rv(self, body):
        meta = body.get("metadata") if isinstance(body, dict) else None
        if isinstance(meta, dict) and "resourceVersion" in meta:
            self.extra["rv"] = meta["resourceVersion"]

    def another_writer(self, res, ns, name):
        """The "conflict" fault: someone else writes the object, then this
        request loses the race with a 409."""
        def touch(cur):
            ann = cur["metadata"].setdefault("annotations", {})
            ann["fakekube.test/writes"] = str(int(ann.get("fakekube.test/writes", "0")) + 1)
            return cur
        out = self.st.update(res, ns, name, touch)
        self.extra["bumped_to"] = out["metadata"]["resourceVersion"]
        raise self.st.conflict(res, name)

    def note(self, obj):
        st = obj.get("status") if isinstance(obj.get("status"), dict) else {}
        if "status" in st and isinstance(st["status"], str):
            self.extra["phase"] = st["status"]
        prog = st.get("progress") or {}
        if isinstance(prog, dict) and "downloadedBytes" in prog:
            self.extra["downloaded"] = prog.get("downloadedBytes")
            self.extra["total"] = prog.get("totalBytes")
        self.extra["name"] = obj.get("metadata", {}).get("name")

    def wants_table(self):
        return "as=Table" in self.headers.get("Accept", "")

    def list(self, res, ns, q):
        items, rv = self.st.list(res, ns, parse_selector(q.get("labelSelector")),
                                 parse_selector(q.get("fieldSelector")))
        if self.wants_table():
            return self.send_json(200, self.table(res, items, str(rv)))
        return self.send_json(200, {"kind": res.kind + "List", "apiVersion": res.gv,
                                    "metadata": {"resourceVersion": str(rv)},
                                    "items": items})

    def table(self, res, items, rv):
        cols = [{"name": "Name", "type": "string", "format": "name",
                 "description": "Name must be unique within a namespace.",
                 "priority": 0}]
        paths = []
        if res.columns:
            for c in res.columns:
                cols.append({"name": c["name"], "type": c.get("type", "string"),
                             "format": c.get("format", ""),
                             "description": c.get("description", ""),
                             "priority": c.get("priority", 0)})
                paths.append((c.get("jsonPath", ""), c.get("type")))
        else:
            cols.append({"name": "Age", "type": "date", "format": "",
                         "description": "creation time", "priority": 0})
            paths.append((".metadata.creationTimestamp", "date"))
        rows = []
        include = self.query_get("includeObject", "Metadata")
        for obj in items:
            cells = [obj["metadata"]["name"]]
            for p, t in paths:
                v = jsonpath(obj, p)
                if t == "date" and v is not None:
                    v = human_age(v)
                cells.append(v)
            if include == "Object":
                ro = obj
            elif include == "None":
                ro = None
            else:
                ro = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                      "metadata": obj["metadata"]}
            row = {"cells": cells}
            if ro is not None:
                row["object"] = ro
            rows.append(row)
        return {"kind": "Table", "apiVersion": "meta.k8s.io/v1",
                "metadata": {"resourceVersion": rv},
                "columnDefinitions": cols, "rows": rows}

    def query_get(self, key, default):
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
        return q.get(key, default)

    # -- watch -----------------------------------------------------------
    def chunk(self, obj):
        data = (json.dumps(obj) + "\n").encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def watch(self, res, ns, q):
        st = self.st
        lsel = parse_selector(q.get("labelSelector"))
        fsel = parse_selector(q.get("fieldSelector"))
        bookmarks = q.get("allowWatchBookmarks") in ("1", "true")
        timeout = float(q.get("timeoutSeconds") or 1800)
        rv_arg = q.get("resourceVersion", "")
        deadline = time.monotonic() + timeout
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.code = 200
        with st.lock:
            st.watches += 1
            drop_gen, gone_gen = st.drop_gen, st.gone_gen
            if rv_arg in ("", "0"):
                pos_rv = st.rv
                initial = [copy.deepcopy(o) for (ons, _), o in sorted(st.objects[res.key].items())
                           if (not ns or ons == ns) and matches(o, lsel, fsel)]
            else:
                try:
                    pos_rv = int(rv_arg)
                except ValueError:
                    pos_rv = -1
                initial = []
            too_old = pos_rv < st.floor - 1 and rv_arg not in ("", "0")
        # what this stream sent, in order: [type, resourceVersion] (logged)
        sent = self.extra["sent"] = []
        try:
            if too_old:
                self.extra["event"] = "410"
                self.chunk({"type": "ERROR", "object": ApiError(
                    410, "Expired", "too old resource version: %s (%d)" % (
                        rv_arg, st.floor - 1)).status()})
                self.wfile.write(b"0\r\n\r\n")
                return
            for o in initial:
                self.chunk({"type": "ADDED", "object": o})
                sent.append(["ADDED", o["metadata"]["resourceVersion"]])
            last_bookmark = time.monotonic()
            while not STOPPING.is_set():
                send = []
                with st.lock:
                    while True:
                        if st.drop_gen != drop_gen:
                            self.extra["event"] = "drop"
                            self.close_connection = True
                            self.connection.shutdown(socket.SHUT_RDWR)
                            return
                        if st.gone_gen != gone_gen:
                            break
                        if not st.hold:
                            send = [e for e in st.events if e[0] > pos_rv]
                            if send:
                                break
                        left = min(deadline - time.monotonic(),
                                   self.st.bookmark - (time.monotonic() - last_bookmark))
                        if left <= 0 or STOPPING.is_set():
                            break
                        st.lock.wait(min(left, 0.5))
                    gone = st.gone_gen != gone_gen
                    cur_rv = st.rv
                    held = st.hold  # a bookmark must not skip held events
                if gone:
                    self.extra["event"] = "410"
                    self.chunk({"type": "ERROR", "object": ApiError(
                        410, "Expired", "too old resource version: %d (%d)" % (
                            pos_rv, st.floor - 1)).status()})
                    break
                for erv, rkey, ens, etype, obj in send:
                    pos_rv = erv
                    if rkey != res.key or (ns and ens != ns):
                        continue
                    if not matches(obj, lsel, fsel):
                        continue
                    self.chunk({"type": etype, "object": obj})
                    sent.append([etype, obj["metadata"]["resourceVersion"]])
                if time.monotonic() >= deadline:
                    break
                if bookmarks and time.monotonic() - last_bookmark >= self.st.bookmark:
                    if not send and not held:
                        pos_rv = max(pos_rv, cur_rv)
                    self.chunk({"type": "BOOKMARK", "object": {
                        "kind": res.kind, "apiVersion": res.gv,
                        "metadata": {"resourceVersion": str(pos_rv)}}})
                    sent.append(["BOOKMARK", str(pos_rv)])
                    last_bookmark = time.monotonic()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        finally:
            with st.lock:
                st.watches -= 1


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, ssl.SSLError, OSError)):
            return
        super().handle_error(request, client_address)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Fake Kubernetes API server for aimfs tests.")
    ap.add_argument("--port", type=int, default=0, help="0 = any free port")
    ap.add_argument("--port-file", help="write the bound port here (atomically)")
    ap.add_argument("--log", help="append JSON request log lines here")
    ap.add_argument("--token-file", help="accepted bearer tokens, one a line")
    ap.add_argument("--tls-cert", help="serve https with this certificate (PEM)")
    ap.add_argument("--tls-key", help="and this key (PEM)")
    ap.add_argument("--bookmark-interval", type=float, default=1.0,
                    help="seconds between watch bookmarks (default 1)")
    ap.add_argument("--pvc-phase", default="Bound", choices=["Bound", "Pending"],
                    help="status.phase of a new PersistentVolumeClaim (default Bound)")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)

    Handler.st = State(args)
    Handler.verbose = args.verbose
    server = Server(("127.0.0.1", args.port), Handler)
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        ctx.set_alpn_protocols(["http/1.1"])
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    port = server.server_address[1]
    if args.port_file:
        tmp = "%s.tmp.%d" % (args.port_file, os.getpid())
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)

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
    with Handler.st.lock:
        Handler.st.lock.notify_all()
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
