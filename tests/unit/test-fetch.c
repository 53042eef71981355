/* Unit tests for hf-fetch's pieces: hashes, path and repo-id checks, the
 * tree-listing parser on good and hostile JSON, archive entry names, and
 * model_locate on a hand-built cache. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "hub.h"
#include "modelpath.h"
#include "sha.h"
#include "unpack.h"

#include "tap.h"

static void is_str(const char *got, const char *want, const char *name)
{
	ok(got && strcmp(got, want) == 0, "%s", name);
	if (!got || strcmp(got, want) != 0)
		printf("# got:  %s\n# want: %s\n", got ? got : "(null)", want);
}

static const char *sha256_of(const char *s, size_t n)
{
	static char out[65];
	struct sha256 c;
	sha256_init(&c);
	sha256_update(&c, s, n);
	sha256_hex(&c, out);
	return out;
}

static const char *sha1_of(const char *s, size_t n)
{
	static char out[41];
	struct sha1 c;
	sha1_init(&c);
	sha1_update(&c, s, n);
	sha1_hex(&c, out);
	return out;
}

static void test_hashes(void)
{
	static char mil[1000000];
	char tmpl[] = "/tmp/test-fetch.XXXXXX", out[65];
	struct sha256 c;
	int fd, i;

	/* FIPS 180 examples */
	is_str(sha256_of("", 0), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "sha256 empty");
	is_str(sha256_of("abc", 3), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "sha256 abc");
	is_str(sha256_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56),
	       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1", "sha256 two blocks");
	memset(mil, 'a', sizeof mil);
	sha256_init(&c);
	for (i = 0; i < 10; i++)	/* uneven pieces cross the block buffer */
		sha256_update(&c, mil + i * 100000, 100000);
	sha256_hex(&c, out);
	is_str(out, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0", "sha256 million a");
	is_str(sha1_of("abc", 3), "a9993e364706816aba3e25717850c26c9cd0d89d", "sha1 abc");
	is_str(sha1_of("", 0), "da39a3ee5e6b4b0d3255bfef95601890afd80709", "sha1 empty");
	fd = mkstemp(tmpl);
	ok(fd >= 0 && write(fd, "hello\n", 6) == 6 && close(fd) == 0, "temp file");
	ok(file_gitsha1(tmpl, out) && strcmp(out, "ce013625030ba8dba906f756967f9e9ca394464a") == 0,
	   "git blob id of hello\\n (as git hash-object)");
	ok(file_sha256(tmpl, out) &&
	   strcmp(out, "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03") == 0,
	   "file sha256");
	unlink(tmpl);
	ok(!file_sha256("/nonexistent/x", out), "hashing a missing file fails");
}

static void test_paths(void)
{
	static const char *good[] = {"a", "model.gguf", "sub/dir/x.json", "a..b", "..a", ".hidden", "x/.y"};
	static const char *bad[] = {"", "/etc/passwd", "../x", "a/../../x", "a/..", "..", ".", "./a",
				    "a//b", "a/", "a\\..\\b", "a\nb", "a\x7f", "x/./y"};
	size_t i;
	char msg[64], out[64];

	for (i = 0; i < sizeof good / sizeof *good; i++) {
		snprintf(msg, sizeof msg, "safe path '%s'", good[i]);
		ok(hf_safe_relpath(good[i]), "%s", msg);
	}
	for (i = 0; i < sizeof bad / sizeof *bad; i++) {
		snprintf(msg, sizeof msg, "unsafe path #%zu refused", i);
		ok(!hf_safe_relpath(bad[i]), "%s", msg);
	}
	ok(hf_repo_id_valid("HuggingFaceTB/SmolLM2-135M-Instruct"), "repo id");
	ok(hf_repo_id_valid("gpt2"), "repo id without org");
	ok(!hf_repo_id_valid("../x"), "repo id ../x refused");
	ok(!hf_repo_id_valid("a/b/c"), "repo id a/b/c refused");
	ok(!hf_repo_id_valid("a/.b"), "repo id a/.b refused");
	ok(!hf_repo_id_valid("a/b..c"), "repo id with .. refused");
	ok(!hf_repo_id_valid("a/"), "empty name refused");
	ok(!hf_repo_id_valid("a b/c"), "space refused");
	{
		char *d = hf_repo_dir("/c", "org/name");
		is_str(d, "/c/models--org--name", "repo folder name");
		free(d);
	}
	ok(hf_is_commit("0123456789abcdef0123456789abcdef01234567"), "40 hex is a commit");
	ok(!hf_is_commit("0123456789ABCDEF0123456789abcdef01234567"), "upper case is not");
	ok(!hf_is_commit("main"), "main is not");
	ok(unpack_safe_name("./pkg/a.txt", out, sizeof out) && strcmp(out, "pkg/a.txt") == 0,
	   "archive name ./pkg/a.txt");
	ok(unpack_safe_name("pkg/", out, sizeof out) && strcmp(out, "pkg") == 0, "archive dir pkg/");
	ok(!unpack_safe_name("../x", out, sizeof out), "archive ../x refused");
	ok(!unpack_safe_name("/x", out, sizeof out), "archive /x refused");
	ok(!unpack_safe_name("./", out, sizeof out), "archive ./ alone is no name");
	{
		char *e = hub_escape("refs/pr/1", 0);
		is_str(e, "refs%2Fpr%2F1", "revision escaped");
		free(e);
		e = hub_escape("sub dir/a+b.gguf", 1);
		is_str(e, "sub%20dir/a%2Bb.gguf", "path escaped, slashes kept");
		free(e);
	}
}

static int parse(const char *json, struct hub_list *l, struct lmu_err *e)
{
	return hub_parse_tree(json, strlen(json), l, e);
}

static void test_tree(void)
{
	struct hub_list l = {0};
	struct lmu_err e = {{0}};
	char commit[41];
	const char *good =
		"[{\"type\":\"directory\",\"oid\":\"0000000000000000000000000000000000000000\",\"path\":\"sub\"},"
		"{\"type\":\"file\",\"oid\":\"ce013625030ba8dba906f756967f9e9ca394464a\",\"size\":6,\"path\":\"sub/a.txt\"},"
		"{\"type\":\"file\",\"oid\":\"1111111111111111111111111111111111111111\",\"size\":134,\"path\":\"m.gguf\","
		"\"lfs\":{\"oid\":\"5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03\",\"size\":5000,\"pointerSize\":134},"
		"\"xetHash\":\"abc\"},"
		"{\"type\":\"file\",\"oid\":\"ce013625030ba8dba906f756967f9e9ca394464a\",\"size\":1,\"path\":\"../evil\"},"
		"{\"type\":\"file\",\"oid\":\"ce013625030ba8dba906f756967f9e9ca394464a\",\"size\":1,\"path\":\"/abs\"}]";

	ok(parse(good, &l, &e), "good listing parses");
	ok(l.n == 2, "two files, the directory skipped");
	ok(l.n == 2 && strcmp(l.f[0].path, "sub/a.txt") == 0 && l.f[0].size == 6 && !l.f[0].sha256[0],
	   "a git-stored file");
	ok(l.n == 2 && l.f[1].size == 5000 && strcmp(l.f[1].sha256, "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03") == 0,
	   "an LFS file: size and sha256 from lfs");
	ok(l.nrefused == 2 && strcmp(l.refused[0], "../evil") == 0, "unsafe names kept aside, not as files");
	hub_list_free(&l);

	ok(!parse("{\"a\":1}", &l, &e) && strstr(e.msg, "not a JSON array"), "an object is refused");
	ok(!parse("[1,2", &l, &e) && strstr(e.msg, "not JSON"), "truncated JSON is refused");
	ok(!parse("[1]", &l, &e), "a non-object entry is refused");
	ok(!parse("[{\"type\":\"file\",\"oid\":\"xyz\",\"size\":1,\"path\":\"a\"}]", &l, &e), "a bad oid is refused");
	ok(!parse("[{\"type\":\"file\",\"oid\":\"ce013625030ba8dba906f756967f9e9ca394464a\",\"size\":-1,\"path\":\"a\"}]", &l, &e),
	   "a negative size is refused");
	ok(!parse("[{\"type\":\"file\",\"oid\":\"ce013625030ba8dba906f756967f9e9ca394464a\",\"size\":1e300,\"path\":\"a\"}]", &l, &e),
	   "a huge size is refused");
	ok(!parse("[{\"type\":\"file\",\"oid\":\"ce013625030ba8dba906f756967f9e9ca394464a\",\"size\":1.5,\"path\":\"a\"}]", &l, &e),
	   "a fractional size is refused");
	ok(!parse("[{\"type\":\"file\",\"oid\":\"ce013625030ba8dba906f756967f9e9ca394464a\",\"size\":1,\"path\":7}]", &l, &e),
	   "a non-string path is refused");
	ok(!parse("[{\"type\":\"file\",\"oid\":\"ce013625030ba8dba906f756967f9e9ca394464a\",\"size\":1,\"path\":\"a\","
		  "\"lfs\":{\"oid\":\"short\",\"size\":1}}]", &l, &e), "a bad lfs sha256 is refused");
	hub_list_free(&l);
	ok(parse("[{\"type\":\"file\",\"oid\":\"ce013625030ba8dba906f756967f9e9ca394464a\",\"size\":1,\"path\":\"a\\u0000b\"}]", &l, &e) == 0,
	   "a path with NUL is refused");
	hub_list_free(&l);
	ok(parse("[]", &l, &e) && l.n == 0, "an empty page is fine");
	{
		/* nesting far deeper than any listing: an error, not a stack overflow */
		size_t depth = 100000, i;
		char *deep = xmalloc(2 * depth + 1);
		for (i = 0; i < depth; i++) {
			deep[i] = '[';
			deep[depth + i] = ']';
		}
		deep[2 * depth] = '\0';
		ok(!parse(deep, &l, &e), "deeply nested JSON is refused");
		free(deep);
	}
	{
		/* Mutated listings (fixed seed): never a crash, and whatever is
		 * accepted has safe paths, 40-hex oids and sane sizes. */
		size_t len = strlen(good), i, k;
		char *buf = xmalloc(len + 1);
		unsigned long seed = 12345;
		int bad = 0, accepted = 0;
		static const char junk[] = "\"\\/.[]{}:,0-e\n\x01\xff a";

		for (i = 0; i < 3000; i++) {
			memcpy(buf, good, len + 1);
			for (k = 0; k < 1 + i % 4; k++) {
				seed = seed * 6364136223846793005UL + 1442695040888963407UL;
				buf[(seed >> 33) % len] = junk[(seed >> 20) % (sizeof junk - 1)];
			}
			if (parse(buf, &l, &e)) {
				size_t j;
				accepted++;
				for (j = 0; j < l.n; j++)
					if (!hf_safe_relpath(l.f[j].path) || strlen(l.f[j].oid) != 40 || l.f[j].size < 0)
						bad++;
			}
			hub_list_free(&l);
		}
		free(buf);
		ok(bad == 0, "3000 mutated listings: nothing unsafe accepted");
		printf("# %d of 3000 mutated listings parsed\n", accepted);
	}
	ok(hub_parse_commit("{\"sha\":\"0123456789abcdef0123456789abcdef01234567\"}", 50, commit, &e) &&
	   strcmp(commit, "0123456789abcdef0123456789abcdef01234567") == 0, "repo info sha");
	ok(!hub_parse_commit("{\"sha\":\"../../x\"}", 17, commit, &e), "a bad sha is refused");
	ok(!hub_parse_commit("[]", 2, commit, &e), "repo info must be an object");
}

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) == EOF || fclose(f) != 0)
		die("%s: cannot write", path);
}

static void test_resolve(void)
{
	char root[] = "/tmp/test-fetch-cache.XXXXXX", p[512], want[512];
	struct model_loc loc;
	const char *c = "0123456789abcdef0123456789abcdef01234567";

	if (!mkdtemp(root))
		die("mkdtemp");
	setenv("HF_HUB_CACHE", root, 1);
	snprintf(p, sizeof p, "%s/models--org--m", root); mkdir(p, 0777);
	snprintf(p, sizeof p, "%s/models--org--m/refs", root); mkdir(p, 0777);
	snprintf(p, sizeof p, "%s/models--org--m/blobs", root); mkdir(p, 0777);
	snprintf(p, sizeof p, "%s/models--org--m/snapshots", root); mkdir(p, 0777);
	snprintf(p, sizeof p, "%s/models--org--m/snapshots/%s", root, c); mkdir(p, 0777);
	snprintf(p, sizeof p, "%s/models--org--m/refs/main", root); put(p, c);
	snprintf(p, sizeof p, "%s/models--org--m/blobs/b1", root); put(p, "GGUF");
	snprintf(p, sizeof p, "%s/models--org--m/snapshots/%s/m-Q4_K_M.gguf", root, c);
	if (symlink("../../blobs/b1", p) != 0)
		die("symlink");
	snprintf(want, sizeof want, "%s/models--org--m/snapshots/%s/m-Q4_K_M.gguf", root, c);
	model_locate("org/m", &loc);
	is_str(loc.gguf, want, "-m org/m finds the snapshot's one gguf");
	model_loc_free(&loc);
	model_locate("org/m@main", &loc);
	is_str(loc.gguf, want, "-m org/m@main");
	model_loc_free(&loc);
	snprintf(p, sizeof p, "org/m@%s", c);
	model_locate(p, &loc);
	is_str(loc.gguf, want, "-m org/m@COMMIT");
	model_loc_free(&loc);
	model_locate("org/m:q4_k_m", &loc);
	is_str(loc.gguf, want, "-m org/m:q4_k_m picks by part of the name");
	model_loc_free(&loc);
	model_locate("org/m:m-Q4_K_M.gguf", &loc);
	is_str(loc.gguf, want, "-m org/m:FILE");
	model_loc_free(&loc);
	snprintf(p, sizeof p, "%s/models--org--m/snapshots/%s", root, c);
	model_locate(p, &loc);
	is_str(loc.gguf, want, "a directory still works");
	model_loc_free(&loc);
	model_locate(want, &loc);
	is_str(loc.gguf, want, "a file still works");
	model_loc_free(&loc);

	/* a repo of safetensors: the snapshot is a model directory */
	snprintf(p, sizeof p, "%s/models--org--st", root); mkdir(p, 0777);
	snprintf(p, sizeof p, "%s/models--org--st/refs", root); mkdir(p, 0777);
	snprintf(p, sizeof p, "%s/models--org--st/snapshots", root); mkdir(p, 0777);
	snprintf(p, sizeof p, "%s/models--org--st/snapshots/%s", root, c); mkdir(p, 0777);
	snprintf(p, sizeof p, "%s/models--org--st/refs/main", root); put(p, c);
	snprintf(p, sizeof p, "%s/models--org--st/snapshots/%s/config.json", root, c); put(p, "{}");
	snprintf(p, sizeof p, "%s/models--org--st/snapshots/%s/model.safetensors", root, c); put(p, "x");
	snprintf(want, sizeof want, "%s/models--org--st/snapshots/%s", root, c);
	model_locate("org/st", &loc);
	is_str(loc.dir, want, "-m org/st: a snapshot of safetensors is a model directory");
	ok(!loc.gguf && loc.weights && strcmp(loc.weights + strlen(want), "/model.safetensors") == 0,
	   "... with model.safetensors as its weights");
	model_loc_free(&loc);
	snprintf(p, sizeof p, "%s/models--org--st/snapshots/%s/model.safetensors.index.json", root, c); put(p, "{}");
	model_locate("org/st", &loc);
	ok(loc.weights && strcmp(loc.weights + strlen(want), "/model.safetensors.index.json") == 0,
	   "an index wins over model.safetensors");
	model_loc_free(&loc);
	snprintf(p, sizeof p, "org/st@%s:model.safetensors", c);
	model_locate(p, &loc);
	is_str(loc.dir, want, "-m org/st@COMMIT:model.safetensors names the directory...");
	ok(loc.weights && strcmp(loc.weights + strlen(want), "/model.safetensors") == 0, "... with that file as its weights");
	model_loc_free(&loc);
	snprintf(p, sizeof p, "%s/models--org--st/snapshots/%s/model.safetensors.index.json", root, c);
	model_locate(p, &loc);
	is_str(loc.dir, want, "a path to an index names its directory");
	model_loc_free(&loc);

	snprintf(p, sizeof p, "rm -rf '%s'", root);
	if (system(p) != 0)
		die("cleanup");
}

int main(int argc, char **argv)
{
	lmu_init(argc, argv);
	test_hashes();
	test_paths();
	test_tree();
	test_resolve();
	return tap_done();
}
