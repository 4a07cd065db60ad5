#!/bin/bash
# k8s: a source that does not exist makes the artifact Failed with the
# daemon's reason in the Ready condition and an Event; it is retried with
# growing intervals and becomes Available once the repo appears. A pull
# that fails (the origin answers 500) is DownloadFailed, then retried and
# completed once the origin recovers. (spec.env and its Secrets:
# 020-k8s-env.)
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/k8s/lib.sh"

mkdir -p "$T/repos"
start_hub
FETCH_TIMEOUT=1 start_daemon
start_kube
apply_crds
start_rec node-a

new_artifact ghost hf://nobody/ghost
wait_for 15 '[ "$(art_status ghost)" = Failed ]' || fail "ghost is $(art_status ghost)"
jget "$ART/ghost" '[(c["type"], c["status"], c["reason"], c["message"]) for c in g(o,"status","conditions") if c["type"] == "Ready"][0]' >"$T/cond"
grep -q "'Ready', 'False', 'SourceError', .*nobody/ghost.*not found" "$T/cond" ||
	fail "condition: $(cat "$T/cond")"
[ "$(jget "$ART/ghost" 'g(o,"status","nodes","node-a","state")')" = Failed ] || fail "node state"
kget /api/v1/namespaces/default/events | "$PY" -c '
import json, sys
ev = [e for e in json.load(sys.stdin)["items"]
      if e["involvedObject"]["name"] == "ghost" and e["reason"] == "Failed"]
assert ev and ev[0]["type"] == "Warning" and "not found" in ev[0]["message"], ev' ||
	fail "no Warning event for ghost"
ok "a missing repo: Failed, Ready=False SourceError with the daemon's reason, a Warning event"

# retried with backoff (--retry-base 1 --retry-max 4): 1 s, 2 s, 4 s, 4 s
wait_for 12 '[ "$(hub_sum count "^/api/models/nobody/ghost")" -ge 4 ]' ||
	fail "only $(hub_sum count "^/api/models/nobody/ghost") attempts"
"$PY" - "$HUBLOG" <<'PYEOF' || fail "retry intervals"
import json, sys
t = [d["t"] for d in map(json.loads, open(sys.argv[1]))
     if d["path"].startswith("/api/models/nobody/ghost")]
gaps = [round(b - a, 1) for a, b in zip(t, t[1:])]
print("attempts %d, intervals %s" % (len(t), gaps))
assert gaps[0] >= 0.8 and gaps[1] >= 1.7 and gaps[2] >= 3.5, gaps
assert all(g <= 5.5 for g in gaps), gaps
PYEOF
ok "retried with growing intervals"

make_model nobody ghost -- --size 1M
wait_for 15 '[ "$(art_status ghost)" = Available ]' || fail "ghost is $(art_status ghost) after the repo appeared"
ok "Available once the repo exists"

# a pull that fails: every content request answers 500
make_model demo flaky -- --size 6M --seed 4
hub_fault '{"kind": "500", "count": 100000, "match": "/cdn/"}'
hub_fault '{"kind": "500", "count": 100000, "match": "/resolve/"}'
new_artifact flaky hf://demo/flaky
wait_for 30 '[ "$(art_status flaky)" = Failed ]' || fail "flaky is $(art_status flaky)"
[ "$(jget "$ART/flaky" '[c["reason"] for c in g(o,"status","conditions") if c["type"] == "Ready"][0]')" = DownloadFailed ] ||
	fail "reason: $(jget "$ART/flaky" 'g(o,"status","conditions")')"
hub_fault '{"kind": "clear"}'
wait_for 30 '[ "$(art_status flaky)" = Available ]' || fail "flaky is $(art_status flaky) after the origin recovered"
ok "a failed pull is DownloadFailed, retried, and Available after the origin recovers"
