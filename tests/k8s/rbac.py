#!/usr/bin/python3
"""Compare aimfs-reconciler's real API calls with its RBAC.

    rbac.py check RBAC.json KUBE_LOG USED.json
        Every request the reconciler made (user agent aimfs-reconciler/...)
        in the fake API server's log must be allowed by the ClusterRole and
        the Role of packaging/k8s/rbac.yaml (RBAC.json: kubectl's JSON of
        that file). Writes the (group, resource, verb) triples used to
        USED.json. Exit 1 with the refused calls listed.
    rbac.py unused RBAC.json USED.json...
        Every (group, resource, verb) the ClusterRole and Role grant must
        have been used by some case: least privilege. Exit 1 with the
        unused grants listed.

A request maps to RBAC attributes as the API server maps it: GET of an
object is get, of a collection list, with watch=1 watch; POST create; PUT
update; PATCH patch; DELETE delete; /status is the resource "x/status".
"""

import json
import sys
import urllib.parse

# granted without a call of their own: the API server checks them when an
# owner reference with blockOwnerDeletion is set (OwnerReferencesPermission
# Enforcement), on the owner's kind
IMPLIED = {("aimfs.io", "aimartifacts/finalizers", "update"),
           ("aimfs.io", "aimtemplatecaches/finalizers", "update")}


def docs(path):
    text, dec, i, out = open(path).read(), json.JSONDecoder(), 0, []
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        o, i = dec.raw_decode(text, i)
        out.extend(o["items"] if o.get("kind") == "List" else [o])
    return out


def rules(path):
    """[(namespace or None, rule)]: a ClusterRole's apply everywhere."""
    out = []
    for o in docs(path):
        if o["kind"] == "ClusterRole":
            out += [(None, r) for r in o.get("rules", [])]
        elif o["kind"] == "Role":
            out += [(o["metadata"].get("namespace"), r) for r in o.get("rules", [])]
    return out


def attributes(d):
    """(group, resource, verb, namespace) of one logged request, or None."""
    parts = d["path"].strip("/").split("/")
    if parts[:2] == ["api", "v1"]:
        group, rest = "", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 4:
        group, rest = parts[1], parts[3:]
    else:
        return None  # discovery
    ns = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        ns, rest = rest[1], rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else None
    if len(rest) > 2:
        resource += "/" + rest[2]
    q = dict(urllib.parse.parse_qsl(d.get("query", "")))
    m = d["method"]
    if m == "GET":
        verb = "watch" if q.get("watch") in ("1", "true") else "get" if name else "list"
    else:
        verb = {"POST": "create", "PUT": "update", "PATCH": "patch",
                "DELETE": "delete" if name else "deletecollection"}[m]
    return group, resource, verb, ns


def allowed(rs, group, resource, verb, ns):
    for rns, r in rs:
        if rns is not None and rns != ns:
            continue
        if (group in r.get("apiGroups", []) and resource in r.get("resources", [])
                and verb in r.get("verbs", [])):
            return True
    return False


def granted(rs):
    return {(g, res, v) for _, r in rs for g in r.get("apiGroups", [])
            for res in r.get("resources", []) for v in r.get("verbs", [])}


def check(rbac, log, used_out):
    rs = rules(rbac)
    used, refused = set(), set()
    for line in open(log):
        d = json.loads(line)
        if not d.get("ua", "").startswith("aimfs-reconciler/"):
            continue
        a = attributes(d)
        if a is None:
            continue
        used.add(a[:3])
        if not allowed(rs, *a):
            refused.add("%s %s -> %s %s/%s in %s" % (d["method"], d["path"], a[2],
                                                     a[0] or "core", a[1], a[3] or "(cluster)"))
    with open(used_out, "w") as f:
        json.dump(sorted(used), f)
    for r in sorted(refused):
        print("rbac: not granted by packaging/k8s/rbac.yaml: " + r)
    return 1 if refused else 0


def unused(rbac, used_files):
    used = set()
    for p in used_files:
        used |= {tuple(x) for x in json.load(open(p))}
    left = granted(rules(rbac)) - used - IMPLIED
    for g, res, v in sorted(left):
        print("rbac: granted but no case used it: %s %s/%s" % (v, g or "core", res))
    print("rbac: %d grants, %d used by %d cases" % (len(granted(rules(rbac))),
                                                  len(used), len(used_files)))
    return 1 if left else 0


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "check":
        sys.exit(check(*sys.argv[2:]))
    if len(sys.argv) >= 4 and sys.argv[1] == "unused":
        sys.exit(unused(sys.argv[2], sys.argv[3:]))
    sys.exit(__doc__)
