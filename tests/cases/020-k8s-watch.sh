#!/bin/bash
# k8s: the reconciler's list+watch. A watch that times out is resumed from
# the last resourceVersion (bookmarks keep it fresh) without listing again;
# a stream cut mid-way is resumed from there, and the events it missed are
# replayed; a 410 Gone (history compacted) makes it list again and catch up,
# including a deletion it missed; a 409 on a status write is retried on a
# fresh copy (fetched again: the object moved on), and so is a 500.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/k8s/lib.sh"

make_model demo small -- --size 2M
start_hub
start_daemon
start_kube --bookmark-interval 0.5
apply_crds
start_rec node-a --watch-timeout 2

lists() {
	klog 'd["method"] == "GET" and d["path"].endswith("/aimartifacts") and not d["watch"] and d["ua"].startswith("aimfs-reconciler")'
}
watches() {
	klog 'd["path"].endswith("/aimartifacts") and d["watch"] and d["ua"].startswith("aimfs-reconciler")'
}

new_artifact w1 hf://demo/small
wait_for 15 '[ "$(art_status w1)" = Available ]' || fail "w1 is $(art_status w1)"
wait_for 10 '[ "$(watches)" -ge 3 ]' || fail "only $(watches) watches in 10 s with --watch-timeout 2"
[ "$(lists)" = 1 ] || fail "$(lists) lists of aimartifacts"
# Each watch that ended by its timeout is followed by one that resumes from
# the last resourceVersion the stream sent, and at least once that is a
# BOOKMARK's, newer than any event of that stream: only a reconciler that
# takes bookmarks' versions passes.
check_resume() {
	"$PY" - "$KUBE_LOG" <<'PYEOF'
import json, sys, urllib.parse
mine = [d for d in map(json.loads, open(sys.argv[1]))
        if d["path"].endswith("/aimartifacts") and d["ua"].startswith("aimfs-reconciler")]
checked = by_bookmark = 0
for a, b in zip(mine, mine[1:]):
    # a list between the two is a new start, not a resumption
    if not (a["watch"] and b["watch"] and a["status"] == 200 and "event" not in a):
        continue
    qa = dict(urllib.parse.parse_qsl(a["query"]))
    qb = dict(urllib.parse.parse_qsl(b["query"]))
    assert qa["allowWatchBookmarks"] == "true" and qa["timeoutSeconds"] == "2", qa
    sent = a["sent"]
    want = sent[-1][1] if sent else qa["resourceVersion"]
    assert qb["resourceVersion"] == want, (
        "watch from %s sent %s; the next one resumed from %s" % (
            qa["resourceVersion"], sent[-4:], qb["resourceVersion"]))
    checked += 1
    seen = [int(rv) for t, rv in sent if t != "BOOKMARK"] + [int(qa["resourceVersion"])]
    if sent and sent[-1][0] == "BOOKMARK" and int(want) > max(seen):
        by_bookmark += 1
print("%d resumptions checked, %d from a bookmark" % (checked, by_bookmark))
assert checked >= 2 and by_bookmark >= 1, (checked, by_bookmark)
PYEOF
}
check_resume || fail "watch resourceVersions"
ok "watches time out and resume from the bookmarked resourceVersion, with one list"

# a stream cut mid-way: what happened meanwhile is replayed from the RV
kfault '{"kind": "hold"}'
new_artifact w2 hf://demo/small
kfault '{"kind": "drop"}'
wait_for 15 '[ "$(art_status w2)" = Available ]' || fail "w2 is $(art_status w2) after the drop"
[ "$(lists)" = 1 ] || fail "a dropped watch made it list again ($(lists) lists)"
grep -q "aimartifacts: watch cut" "$T/rec-node-a.log" || fail "no log line for the cut watch"
ok "a watch dropped mid-stream is resumed from its resourceVersion; the missed event is replayed"

# 410 Gone: compacted history; a deletion and a creation it never saw
kfault '{"kind": "hold"}'
kdelete "$ART/w1"
new_artifact w3 hf://demo/small
kfault '{"kind": "gone"}'
wait_for 15 '[ "$(art_status w3)" = Available ]' || fail "w3 is $(art_status w3) after the 410"
wait_for 15 '! exists "$ART/w1"' || fail "w1's deletion was missed"
[ "$(lists)" = 2 ] || fail "$(lists) lists after the 410 (want 2)"
grep -q "aimartifacts: resourceVersion [0-9]* is gone: listing again" "$T/rec-node-a.log" ||
	fail "no log line for the 410"
[ "$(klog 'd.get("event") == "410"')" -ge 1 ] || fail "the API server sent no 410"
ok "410 Gone: listed again, finalized the artifact deleted meanwhile, reconciled the new one"

# the same as an HTTP status: a watch request answered 410 lists again
kfault '{"kind": "410", "match": "/aimartifacts?watch=1", "count": 1}'
kfault '{"kind": "hold"}'
new_artifact w5 hf://demo/small
kfault '{"kind": "drop"}'
wait_for 15 '[ "$(art_status w5)" = Available ]' || fail "w5 is $(art_status w5) after an HTTP 410"
[ "$(lists)" = 3 ] || fail "$(lists) lists after the HTTP 410 (want 3)"
ok "a watch refused with HTTP 410 lists again"

# 409 on the status write: another writer changed w4 first (a new
# resourceVersion), so only a retry on a fresh copy can succeed
kfault '{"kind": "conflict", "match": "/aimartifacts/w4/status", "count": 2}'
new_artifact w4 hf://demo/small
wait_for 15 '[ "$(art_status w4)" = Available ]' || fail "w4 is $(art_status w4) after two 409s"
grep -q "PATCH .*/w4/status: conflict: retrying on a fresh copy" "$T/rec-node-a.log" ||
	fail "no log line for the conflict"
"$PY" - "$KUBE_LOG" <<'PYEOF' || fail "the retries after the 409s"
import json, sys
w4 = [d for d in map(json.loads, open(sys.argv[1]))
      if d["ua"].startswith("aimfs-reconciler")
      and d["path"].endswith(("/aimartifacts/w4", "/aimartifacts/w4/status"))]
conflicts = [i for i, d in enumerate(w4) if d["status"] == 409]
assert len(conflicts) == 2, ["%s %s %s" % (d["method"], d["path"], d["status"]) for d in w4]
for i in conflicts:
    bumped = w4[i]["bumped_to"]
    later = w4[i + 1:]
    gets = [j for j, d in enumerate(later) if d["method"] == "GET"]
    writes = [j for j, d in enumerate(later) if d["method"] == "PATCH"]
    assert gets and writes and gets[0] < writes[0], "no fresh GET before the retry"
    retry = later[writes[0]]
    assert retry["rv"] == bumped, "the retry carried rv %s, the object is at %s" % (retry["rv"], bumped)
    print("409 (object moved to rv %s): GET, then PATCH with rv %s -> %d" % (bumped, retry["rv"], retry["status"]))
PYEOF
ok "two 409s (the object changed meanwhile) were retried on fresh copies, each with the new resourceVersion"

# a 500 on a status write is retried too
kfault '{"kind": "500", "match": "/aimartifacts/w6/status", "count": 2}'
new_artifact w6 hf://demo/small
wait_for 15 '[ "$(art_status w6)" = Available ]' || fail "w6 is $(art_status w6) after two 500s"
[ "$(klog 'd["path"].endswith("/w6/status") and d["status"] == 500')" = 2 ] || fail "the 500s were not served"
ok "two 500s on the status write were retried"

check_resume || fail "watch resourceVersions after the faults"
ok "every watch that timed out was resumed from the last resourceVersion it sent"
