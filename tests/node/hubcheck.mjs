// hubcheck.mjs HUBDIR EXPECT.json
//
// Runs the real @huggingface/hub client against the aimfs hub view:
//  - scanCacheDir(HUBDIR) must report every expected repo with its
//    revisions, refs, file counts and sizes, and no warnings;
//  - downloadFileToCacheDir with cacheDir = HUBDIR and revision = commit
//    must return the snapshot path with the right bytes, with hubUrl set to
//    a closed port (no network may be used).
// EXPECT.json: {"repos": [{"id": "org/name", "size": N, "filesCount": N,
//   "revisions": [{"commit": "...", "refs": ["main"], "files": N, "size": N,
//   "reads": [{"path": "config.json", "sha256": "..."}]}]}]}
// Prints one line per check and exits non-zero on the first mismatch.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { downloadFileToCacheDir, scanCacheDir } from "@huggingface/hub";

const [hubDir, expectPath] = process.argv.slice(2);
const expect = JSON.parse(await readFile(expectPath, "utf-8"));

function check(cond, what) {
	if (!cond) {
		console.log(`FAIL: ${what}`);
		process.exit(1);
	}
	console.log(`ok - ${what}`);
}

const scan = await scanCacheDir(hubDir);
check(scan.warnings.length === 0,
	`scanCacheDir: no warnings (${scan.warnings.map(String).join("; ")})`);
check(scan.repos.length === expect.repos.length,
	`scanCacheDir: ${scan.repos.length} repos, want ${expect.repos.length}`);
for (const want of expect.repos) {
	const got = scan.repos.find((r) => r.id.name === want.id);
	check(got && got.id.type === "model", `repo ${want.id} found`);
	check(got.size === want.size, `${want.id}: size ${got.size} == ${want.size}`);
	check(got.filesCount === want.filesCount,
		`${want.id}: filesCount ${got.filesCount} == ${want.filesCount}`);
	check(got.revisions.length === want.revisions.length,
		`${want.id}: ${got.revisions.length} revisions`);
	for (const wr of want.revisions) {
		const gr = got.revisions.find((r) => r.commitOid === wr.commit);
		check(gr, `${want.id}@${wr.commit.slice(0, 8)}: snapshot found`);
		check(JSON.stringify([...gr.refs].sort()) === JSON.stringify([...wr.refs].sort()),
			`${want.id}@${wr.commit.slice(0, 8)}: refs ${gr.refs} == ${wr.refs}`);
		check(gr.files.length === wr.files,
			`${want.id}@${wr.commit.slice(0, 8)}: ${gr.files.length} files == ${wr.files}`);
		check(gr.size === wr.size,
			`${want.id}@${wr.commit.slice(0, 8)}: size ${gr.size} == ${wr.size}`);
		for (const rd of wr.reads) {
			const p = await downloadFileToCacheDir({
				repo: want.id,
				path: rd.path,
				revision: wr.commit,
				cacheDir: hubDir,
				hubUrl: "http://127.0.0.1:9", // closed: no network allowed
			});
			const want_p = `${hubDir}/models--${want.id.replace("/", "--")}/snapshots/${wr.commit}/${rd.path}`;
			check(p === want_p, `downloadFileToCacheDir(${rd.path}) -> ${p}`);
			const sha = createHash("sha256").update(await readFile(p)).digest("hex");
			check(sha === rd.sha256, `${rd.path} at ${wr.commit.slice(0, 8)}: bytes match`);
		}
	}
}
