/* hf-fetch - download from the Hugging Face Hub into its cache (hf-fetch(1)).
 *
 * The cache is the one huggingface_hub keeps (doc/formats.md "Hub cache layout"): blobs named
 * by sha256 (LFS) or git blob id, snapshots/<commit>/ of relative symlinks,
 * refs/<revision>.  Nothing enters blobs/ before its hash is checked, and
 * nothing enters snapshots/ before its blob is in place, so an interrupted,
 * failed or concurrent run never leaves a corrupt file where readers look. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "http.h"
#include "hub.h"
#include "modelpath.h"
#include "modellist.h"
#include "opt.h"
#include "sha.h"
#include "unpack.h"

struct opts {
	const char *repo, *revision, *endpoint, *cache, *token_file;
	char **pats, **incl, **excl;
	int npats, nincl, nexcl;
	int dry_run, offline, quiet;
	const char *search, *author;
	long limit;
	struct http_cfg http;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s [options] ORG/NAME [FILE|GLOB ...]\n"
		"       %s --search QUERY [--author ORG] [--limit N]\n"
		"       %s --unpack ARCHIVE DIR [MEMBER ...]\n"
		"       %s --list [DIR ...]\n"
		"       %s -h | -V\n"
		"Download a Hugging Face Hub repo (or the files matching FILE|GLOB) into the\n"
		"Hugging Face cache and print the snapshot directory.\n"
		"  -r, --revision REV     branch, tag or commit (default main)\n"
		"  -i, --include GLOB     only files matching GLOB (repeatable)\n"
		"  -x, --exclude GLOB     not files matching GLOB (repeatable)\n"
		"  -n, --dry-run          list size, state and path of each file; fetch nothing\n"
		"      --offline          use the cache only (also HF_HUB_OFFLINE=1)\n"
		"      --endpoint URL     Hub or mirror (default $HF_ENDPOINT or https://huggingface.co)\n"
		"      --cache-dir DIR    hub cache (default $HF_HUB_CACHE or $HF_HOME/hub)\n"
		"      --token-file FILE  read the token from FILE (default $HF_TOKEN, else $HF_HOME/token)\n"
		"      --retries N        retries after timeouts, 429 and 5xx (default 5)\n"
		"      --low-speed-time S abort a transfer slower than --low-speed-limit for S s (30)\n"
		"      --low-speed-limit B  bytes per second (default 1024)\n"
		"  -q, --quiet            no progress bars or retry notices\n"
		"      --search QUERY     search models: id, downloads, likes, pipeline tag\n"
		"      --author ORG       with --search, only ORG's models\n"
		"      --limit N          with --search, at most N results (default 20)\n"
		"      --timeout S        give up on a server that sends nothing for S s (30)\n"
		"      --list [DIR ...]   the models in the cache and in DIR (default ./models):\n"
		"                         repo, file, architecture, size, quantization\n"
		"      --unpack ARCHIVE DIR  extract a tar or zip archive safely into DIR\n",
		progname, progname, progname, progname, progname);
}

static int has_glob(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

static char *join(const char *a, const char *b)
{
	char *p = xmalloc(strlen(a) + strlen(b) + 2);
	sprintf(p, "%s/%s", a, b);
	return p;
}

/* mkdir -p for directories this program owns (the cache). */
static void mkdirs(const char *path)
{
	char *p = xstrdup(path), *s;

	for (s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0777) != 0 && errno != EEXIST)
			die("%s: %s", p, strerror(errno));
		*s = '/';
	}
	if (mkdir(p, 0777) != 0 && errno != EEXIST)
		die("%s: %s", p, strerror(errno));
	free(p);
}

static char *dir_of(const char *path)
{
	char *d = xstrdup(path), *s = strrchr(d, '/');
	if (s)
		*s = '\0';
	return d;
}

static int truthy(const char *s)
{
	return s && (strcmp(s, "1") == 0 || strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0 ||
		     strcasecmp(s, "on") == 0);
}

static double env_double(const char *name, double def, double min, double max)
{
	const char *s = getenv(name);
	return s && *s ? opt_double(s, min, max, name) : def;
}

/* A token goes into an HTTP header: printable ASCII without spaces only,
 * or a line break in it could add headers of its own.  Never printed. */
static char *checked_token(char *t, const char *from)
{
	const char *s;

	for (s = t; *s; s++)
		if (*s <= ' ' || *s > '~')
			die("%s holds a character a token cannot have (a space, control "
			    "character or non-ASCII byte); it was not sent", from);
	return t;
}

/* The token: --token-file when given (an explicit option wins over the
 * environment), else $HF_TOKEN, else the file $HF_TOKEN_PATH or
 * $HF_HOME/token.  A token file longer than TOKEN_MAX is refused, never
 * cut.  The token never appears in argv or in a message. */
#define TOKEN_MAX 1023
static char *load_token(const char *file)
{
	const char *s = getenv("HF_TOKEN");
	char buf[TOKEN_MAX + 2], *home = NULL, *path;
	FILE *f;
	size_t n;
	int c;

	if (!file && s && *s)
		return checked_token(xstrdup(s), "HF_TOKEN");
	if (file)
		path = xstrdup(file);
	else if ((s = getenv("HF_TOKEN_PATH")) && *s)
		path = xstrdup(s);
	else {
		home = hf_home();
		path = join(home, "token");
		free(home);
	}
	f = fopen(path, "r");
	if (!f) {
		if (file)
			die("%s: %s", path, strerror(errno));
		free(path);
		return NULL;
	}
	n = fread(buf, 1, TOKEN_MAX + 1, f);
	while (n > 0 && isspace((unsigned char)buf[n - 1]))
		n--;
	/* past TOKEN_MAX only white space may follow (a final line break) */
	while (n <= TOKEN_MAX && (c = getc(f)) != EOF)
		if (!isspace(c))
			n = TOKEN_MAX + 1;
	if (ferror(f))
		die("%s: %s", path, strerror(errno));
	fclose(f);
	if (n > TOKEN_MAX)
		die("%s: the token file holds more than %d bytes, more than any token; it was not sent",
		    path, TOKEN_MAX);
	free(path);
	buf[n] = '\0';
	if (n == 0)
		return NULL;
	return checked_token(xstrdup(buf), "the token file");
}

static int matches_any(char **globs, int n, const char *path)
{
	int i;
	for (i = 0; i < n; i++)
		if (fnmatch(globs[i], path, 0) == 0)
			return 1;
	return 0;
}

static int selected(const struct opts *o, const char *path)
{
	return (o->npats == 0 || matches_any(o->pats, o->npats, path)) &&
	       (o->nincl == 0 || matches_any(o->incl, o->nincl, path)) &&
	       !matches_any(o->excl, o->nexcl, path);
}

/* " (did you mean NAME?)" when files of the listing match PAT only when
 * case is ignored (globs, like file names, are case-sensitive); "" when
 * none do.  Up to three names, in out. */
static const char *did_you_mean(const struct hub_list *l, const char *pat, char *out, size_t cap)
{
	size_t k = 0, shown = 0;
	out[0] = '\0';
	for (size_t i = 0; i < l->n && shown < 3; i++) {
		char name[200];
		if (fnmatch(pat, l->f[i].path, FNM_CASEFOLD) != 0)
			continue;
		hub_printable(name, sizeof name, l->f[i].path);
		k += (size_t)snprintf(out + k, k < cap ? cap - k : 0, "%s%s", shown ? ", " : " (did you mean ", name);
		shown++;
	}
	if (shown && k < cap)
		snprintf(out + k, cap - k, "%s? names are case-sensitive)", shown == 3 ? ", ..." : "");
	return out;
}

/* ---- offline: the cache alone ---- */

static int walk_match(const struct opts *o, const char *dir, const char *rel, const char *pat,
		      int depth)
{
	char *d = *rel ? join(dir, rel) : xstrdup(dir);
	DIR *dp = opendir(d);
	struct dirent *ent;
	int found = 0;

	if (!dp || depth > 32) {
		if (dp)
			closedir(dp);
		free(d);
		return 0;
	}
	while (!found && (ent = readdir(dp))) {
		char *r, *full;
		struct stat st;

		if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0)
			continue;
		r = *rel ? join(rel, ent->d_name) : xstrdup(ent->d_name);
		full = join(dir, r);
		if (stat(full, &st) == 0) {
			if (S_ISDIR(st.st_mode))
				found = walk_match(o, dir, r, pat, depth + 1);
			else if (S_ISREG(st.st_mode))
				found = fnmatch(pat, r, 0) == 0 && selected(o, r);
		}
		free(full);
		free(r);
	}
	closedir(dp);
	free(d);
	return found;
}

/* The snapshot path if every requested file is in the cache, else NULL
 * with the reason in E. */
static char *cached_snapshot(const struct opts *o, const char *repo_dir, struct lmu_err *e)
{
	char commit[41], *snaps, *snap;
	struct stat st;
	int i;

	if (!hf_cached_commit(repo_dir, o->revision, commit, e))
		return NULL;
	snaps = join(repo_dir, "snapshots");
	snap = join(snaps, commit);
	free(snaps);
	if (stat(snap, &st) != 0 || !S_ISDIR(st.st_mode)) {
		err_set(e, "no snapshot of commit %s in the cache", commit);
		free(snap);
		return NULL;
	}
	for (i = 0; i < o->npats; i++) {
		const char *p = o->pats[i];
		int ok;
		if (has_glob(p)) {
			ok = walk_match(o, snap, "", p, 0);
		} else {
			char *full = hf_safe_relpath(p) ? join(snap, p) : NULL;
			ok = full && stat(full, &st) == 0 && S_ISREG(st.st_mode);
			free(full);
		}
		if (!ok) {
			char shown[256];
			hub_printable(shown, sizeof shown, p);
			err_set(e, "'%s' is not in the cached snapshot %s", shown, commit);
			free(snap);
			return NULL;
		}
	}
	if (o->npats == 0 && (o->nincl > 0 || o->nexcl > 0) && !walk_match(o, snap, "", "*", 0)) {
		err_set(e, "no file matching the --include/--exclude globs in the cached snapshot");
		free(snap);
		return NULL;
	}
	return snap;
}

static void print_snapshot(const char *snap)
{
	printf("%s\n", snap);
	out_close();
}

/* ---- the cache: blobs, snapshot links, refs ---- */

static int blob_ok(const char *path, int64_t size)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == size;
}

static void verify(const struct hub_file *f, const char *tmp, const char *repo)
{
	char got[65];
	int ok;

	if (f->sha256[0]) {
		if (!file_sha256(tmp, got))
			die("%s: %s", tmp, strerror(errno));
		ok = strcmp(got, f->sha256) == 0;
	} else {
		if (!file_gitsha1(tmp, got))
			die("%s: %s", tmp, strerror(errno));
		ok = strcmp(got, f->oid) == 0;
	}
	if (!ok) {
		unlink(tmp);
		die("%s: %s: the downloaded bytes do not match the %s the Hub lists (%s, got %s); "
		    "the file was discarded and nothing was written to the cache",
		    repo, f->path, f->sha256[0] ? "sha256" : "git blob id",
		    f->sha256[0] ? f->sha256 : f->oid, got);
	}
}

/* A run killed outright (SIGKILL, power loss) leaves BLOB.incomplete.PID
 * behind.  Under the lock, such a file of a process that no longer exists
 * becomes this run's resume data (if it has none yet) or is removed. */
static void adopt_orphans(const char *blobs, const char *base, const char *tmp)
{
	DIR *d = opendir(blobs);
	struct dirent *ent;
	size_t n = strlen(base);
	struct stat st;
	int have = stat(tmp, &st) == 0;

	if (!d)
		return;
	while ((ent = readdir(d))) {
		const char *s = ent->d_name;
		char *end, *path;
		long pid;

		if (strncmp(s, base, n) != 0 || strncmp(s + n, ".incomplete.", 12) != 0)
			continue;
		pid = strtol(s + n + 12, &end, 10);
		if (*end || pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		path = join(blobs, s);
		if (!have && rename(path, tmp) == 0)
			have = 1;
		else
			unlink(path);
		free(path);
	}
	closedir(d);
}

/* Put the blob for F in place: lock, claim any resumable part by renaming
 * it to this process's own name, download, check, rename into place. */
static void fetch_blob(const struct opts *o, const char *cache, const char *repo_dir,
		       const char *commit, const struct hub_file *f, const char *blob,
		       struct progress *pg, int token_sent)
{
	char *blobs = dir_of(blob), *base = strrchr(blob, '/') + 1;
	char *locks = xmalloc(strlen(cache) + strlen(repo_dir) + 16), *lock;
	char *incomplete = xmalloc(strlen(blob) + 16), *tmp = xmalloc(strlen(blob) + 40);
	char *epath, *url;
	struct http_res r = {0};
	struct lmu_err e = {{0}};
	int lfd;

	sprintf(locks, "%s/.locks/%s", cache, strrchr(repo_dir, '/') + 1);
	mkdirs(blobs);
	mkdirs(locks);
	lock = xmalloc(strlen(locks) + strlen(base) + 8);
	sprintf(lock, "%s/%s.lock", locks, base);
	lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (lfd < 0)
		die("%s: %s", lock, strerror(errno));
	/* HF_FETCH_NO_LOCK=1 makes every lock succeed at once, as on the
	 * network filesystems of doc/formats.md "Hub downloads"; the tests use it to show that the
	 * per-process file names alone keep the cache whole. */
	if (!truthy(getenv("HF_FETCH_NO_LOCK")) && flock(lfd, LOCK_EX | LOCK_NB) != 0) {
		if (!o->quiet)
			warnx_("%s: another process is fetching it; waiting", f->path);
		if (flock(lfd, LOCK_EX) != 0)
			die("%s: flock: %s", lock, strerror(errno));
	}
	if (blob_ok(blob, f->size)) {	/* the other process finished it */
		pg->total_done += f->size;
		goto done;
	}
	/* Locks are not trusted alone (they succeed for everyone on some
	 * network filesystems): each process writes its own file. */
	sprintf(incomplete, "%s.incomplete", blob);
	sprintf(tmp, "%s.incomplete.%ld", blob, (long)getpid());
	if (rename(incomplete, tmp) != 0 && errno != ENOENT)
		die("%s: %s", incomplete, strerror(errno));
	adopt_orphans(blobs, base, tmp);
	epath = hub_escape(f->path, 1);
	url = xmalloc(strlen(o->endpoint) + strlen(o->repo) + strlen(epath) + 64);
	sprintf(url, "%s/%s/resolve/%s/%s", o->endpoint, o->repo, commit, epath);
	free(epath);
	pg->name = f->path;
	pg->file_size = f->size;
	if (!http_download(url, tmp, f->size, pg, &r)) {
		struct stat st;
		/* Keep what arrived for the next run's Range request, unless
		 * it can not be trusted. */
		if (r.fail != HTTP_BAD && r.status != 416 && stat(tmp, &st) == 0 && st.st_size > 0)
			rename(tmp, incomplete);
		else
			unlink(tmp);
		if (http_interrupted) {
			warnx_("interrupted; the partial file is kept for resuming");
			exit(130);
		}
		hub_die(&r, &e, o->endpoint, o->repo, o->revision, f->path, token_sent);
	}
	if (r.repo_commit[0] && strcmp(r.repo_commit, commit) != 0) {
		unlink(tmp);
		die("%s: %s: the server answered for commit %.64s, not %s", o->repo, f->path,
		    r.repo_commit, commit);
	}
	http_res_free(&r);
	if (!blob_ok(tmp, f->size)) {
		unlink(tmp);
		die("%s: %s: the download does not have the listed size %lld", o->repo, f->path,
		    (long long)f->size);
	}
	verify(f, tmp, o->repo);
	if (rename(tmp, blob) != 0)
		die("%s: %s", blob, strerror(errno));
	free(url);
done:
	close(lfd);	/* releases the lock */
	free(lock);
	free(locks);
	free(blobs);
	free(incomplete);
	free(tmp);
}

/* snapshots/<commit>/<path> -> ../../blobs/<blob>, one more ../ per
 * directory level of <path>; replaced atomically. */
static void link_snapshot(const char *snap, const char *path, const char *blobname)
{
	char *link = join(snap, path), *dir = dir_of(link), *target, *tmp, *q;
	char cur[512];
	const char *s;
	int depth = 2;
	ssize_t n;

	for (s = path; *s; s++)
		depth += *s == '/';
	target = xmalloc(3 * (size_t)depth + strlen(blobname) + 8);
	for (q = target; depth > 0; depth--)
		q += sprintf(q, "../");
	sprintf(q, "blobs/%s", blobname);
	n = readlink(link, cur, sizeof cur - 1);
	if (n >= 0) {
		cur[n] = '\0';
		if (strcmp(cur, target) == 0)
			goto done;
	}
	mkdirs(dir);
	tmp = xmalloc(strlen(link) + 32);
	sprintf(tmp, "%s.tmp-link.%ld", link, (long)getpid());
	unlink(tmp);
	if (symlink(target, tmp) != 0)
		die("%s: %s", tmp, strerror(errno));
	if (rename(tmp, link) != 0)
		die("%s: %s", link, strerror(errno));
	free(tmp);
done:
	free(target);
	free(dir);
	free(link);
}

static void write_ref(const char *repo_dir, const char *revision, const char *commit)
{
	char *refs = join(repo_dir, "refs"), *ref = join(refs, revision), *dir = dir_of(ref), *tmp;
	char cur[64] = "";
	FILE *f;

	if ((f = fopen(ref, "r"))) {
		size_t n = fread(cur, 1, sizeof cur - 1, f);
		cur[n] = '\0';
		fclose(f);
	}
	if (strcmp(cur, commit) != 0) {
		mkdirs(dir);
		tmp = xmalloc(strlen(ref) + 32);
		sprintf(tmp, "%s.tmp.%ld", ref, (long)getpid());
		if (!(f = fopen(tmp, "w")) || fputs(commit, f) == EOF || fclose(f) != 0)
			die("%s: %s", tmp, strerror(errno));
		if (rename(tmp, ref) != 0)
			die("%s: %s", ref, strerror(errno));
		free(tmp);
	}
	free(dir);
	free(ref);
	free(refs);
}

/* ---- the modes ---- */

static int do_search(const struct opts *o, const char *token)
{
	struct http_res r = {0};
	struct lmu_err e = {{0}};

	if (!hub_search(o->endpoint, o->search, o->author, o->limit, stdout, &r, &e))
		hub_die(&r, &e, o->endpoint, "search", "", NULL, token != NULL);
	http_res_free(&r);
	out_close();
	return 0;
}

static int do_fetch(const struct opts *o, const char *token)
{
	char *cache = o->cache ? xstrdup(o->cache) : hf_hub_cache();
	char *repo_dir = hf_repo_dir(cache, o->repo), *snaps, *snap, commit[41];
	struct hub_list l = {0};
	struct http_res r = {0};
	struct lmu_err e = {{0}};
	struct progress pg = {0};
	char *want;
	size_t i, nsel = 0;
	int j;

	if (!hub_commit(o->endpoint, o->repo, o->revision, commit, &r, &e) ||
	    !hub_list(o->endpoint, o->repo, commit, &l, &r, &e)) {
		if (r.fail == HTTP_NONET || (r.fail == HTTP_TRANSPORT && r.status == 0)) {
			/* No network: what is cached is good enough. */
			struct lmu_err ce = {{0}};
			char *s = cached_snapshot(o, repo_dir, &ce);
			if (s) {
				if (!o->quiet)
					warnx_("cannot reach %s (%s); using the cached snapshot", o->endpoint,
					       r.msg);
				print_snapshot(s);
				free(s);
				http_res_free(&r);
				hub_list_free(&l);
				free(repo_dir);
				free(cache);
				return 0;
			}
			die("cannot reach %s (%s), and the cache cannot stand in: %s: %s; check the "
			    "network, or set HF_ENDPOINT for a mirror", o->endpoint, r.msg, o->repo, ce.msg);
		}
		hub_die(&r, &e, o->endpoint, o->repo, o->revision, NULL, token != NULL);
	}
	http_res_free(&r);

	/* Which files: the patterns, includes and excludes. */
	want = xcalloc(l.n + 1, 1);
	for (i = 0; i < l.n; i++)
		if (selected(o, l.f[i].path)) {
			want[i] = 1;
			nsel++;
		}
	for (i = 0; i < l.nrefused; i++) {
		if (selected(o, l.refused[i]))
			die("%s: the server lists an unsafe file name '%s'; refused, nothing fetched",
			    o->repo, l.refused[i]);
		if (!o->quiet)
			warnx_("%s: ignoring the unsafe file name '%s' in the listing", o->repo, l.refused[i]);
	}
	for (j = 0; j < o->npats; j++) {
		int hit = 0;
		for (i = 0; i < l.n && !hit; i++)
			hit = want[i] && fnmatch(o->pats[j], l.f[i].path, 0) == 0;
		if (!hit) {
			char shown[256], hint[800];
			hub_printable(shown, sizeof shown, o->pats[j]);
			did_you_mean(&l, o->pats[j], hint, sizeof hint);
			if (has_glob(o->pats[j]))
				die("%s: no file matches '%s' at revision %s%s", o->repo, shown, o->revision, hint);
			die("%s: %s: no such file at revision %s%s", o->repo, shown, o->revision, hint);
		}
	}
	if (nsel == 0 && l.n == 0)
		die("%s: the repo has no files at revision %s", o->repo, o->revision);
	if (nsel == 0) {
		char hint[800] = "";
		for (j = 0; j < o->nincl && !hint[0]; j++)
			did_you_mean(&l, o->incl[j], hint, sizeof hint);
		die("%s: no file matches the --include/--exclude globs%s", o->repo, hint);
	}

	snaps = join(repo_dir, "snapshots");
	snap = join(snaps, commit);
	free(snaps);
	for (i = 0; i < l.n; i++) {
		char *blob;
		if (!want[i])
			continue;
		blob = xmalloc(strlen(repo_dir) + 80);
		sprintf(blob, "%s/blobs/%s", repo_dir, l.f[i].sha256[0] ? l.f[i].sha256 : l.f[i].oid);
		if (blob_ok(blob, l.f[i].size))
			want[i] = 2;	/* cached */
		else
			pg.total_size += l.f[i].size;
		free(blob);
	}
	if (o->dry_run) {
		int64_t bytes = 0;
		for (i = 0; i < l.n; i++) {
			if (!want[i])
				continue;
			printf("%lld\t%s\t%s\n", (long long)l.f[i].size, want[i] == 2 ? "cached" : "fetch",
			       l.f[i].path);
			if (want[i] == 1)
				bytes += l.f[i].size;
		}
		if (!o->quiet)
			warnx_("%s at %s: %zu files, %lld bytes to fetch", o->repo, commit, nsel,
			       (long long)bytes);
		out_close();
		goto out;
	}
	for (i = 0; i < l.n; i++) {
		const char *name = l.f[i].sha256[0] ? l.f[i].sha256 : l.f[i].oid;
		char *blob;
		if (!want[i])
			continue;
		blob = xmalloc(strlen(repo_dir) + 80);
		sprintf(blob, "%s/blobs/%s", repo_dir, name);
		if (want[i] == 1)
			fetch_blob(o, cache, repo_dir, commit, &l.f[i], blob, &pg, token != NULL);
		link_snapshot(snap, l.f[i].path, name);
		free(blob);
	}
	if (!hf_is_commit(o->revision))
		write_ref(repo_dir, o->revision, commit);
	print_snapshot(snap);
out:
	free(want);
	free(snap);
	hub_list_free(&l);
	free(repo_dir);
	free(cache);
	return 0;
}

static void push(char ***v, int *n, const char *s)
{
	*v = xreallocarray(*v, (size_t)*n + 1, sizeof **v);
	(*v)[(*n)++] = (char *)s;
}

int main(int argc, char **argv)
{
	enum { O_OFFLINE = 256, O_ENDPOINT, O_CACHE, O_TOKEN_FILE, O_RETRIES, O_LST, O_LSL, O_SEARCH,
	       O_AUTHOR, O_LIMIT, O_UNPACK, O_LIST, O_TIMEOUT };
	static const struct option longopts[] = {
		{"revision", required_argument, NULL, 'r'},
		{"include", required_argument, NULL, 'i'},
		{"exclude", required_argument, NULL, 'x'},
		{"dry-run", no_argument, NULL, 'n'},
		{"quiet", no_argument, NULL, 'q'},
		{"offline", no_argument, NULL, O_OFFLINE},
		{"endpoint", required_argument, NULL, O_ENDPOINT},
		{"cache-dir", required_argument, NULL, O_CACHE},
		{"token-file", required_argument, NULL, O_TOKEN_FILE},
		{"retries", required_argument, NULL, O_RETRIES},
		{"low-speed-time", required_argument, NULL, O_LST},
		{"low-speed-limit", required_argument, NULL, O_LSL},
		{"search", required_argument, NULL, O_SEARCH},
		{"author", required_argument, NULL, O_AUTHOR},
		{"limit", required_argument, NULL, O_LIMIT},
		{"unpack", no_argument, NULL, O_UNPACK},
		{"list", no_argument, NULL, O_LIST},
		{"timeout", required_argument, NULL, O_TIMEOUT},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0},
	};
	struct opts o;
	const char *s;
	char *token = NULL, *ep;
	int c, unpack = 0, list = 0, rc;
	size_t n;

	lmu_init(argc, argv);
	memset(&o, 0, sizeof o);
	o.revision = "main";
	o.limit = 20;
	o.http.retries = 5;
	o.http.low_speed_limit = 1024;
	o.http.low_speed_time = 30;
	o.http.connect_timeout = 30;
	while ((c = getopt_long(argc, argv, "r:i:x:nqhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': o.revision = optarg; break;
		case 'i': push(&o.incl, &o.nincl, optarg); break;
		case 'x': push(&o.excl, &o.nexcl, optarg); break;
		case 'n': o.dry_run = 1; break;
		case 'q': o.quiet = 1; break;
		case O_OFFLINE: o.offline = 1; break;
		case O_ENDPOINT: o.endpoint = optarg; break;
		case O_CACHE: o.cache = optarg; break;
		case O_TOKEN_FILE: o.token_file = optarg; break;
		case O_RETRIES: o.http.retries = (int)opt_int(optarg, 0, 100, "--retries"); break;
		case O_LST: o.http.low_speed_time = (long)opt_int(optarg, 1, 3600, "--low-speed-time"); break;
		case O_LSL: o.http.low_speed_limit = (long)opt_int(optarg, 1, 1L << 30, "--low-speed-limit"); break;
		case O_SEARCH: o.search = optarg; break;
		case O_AUTHOR: o.author = optarg; break;
		case O_LIMIT: o.limit = (long)opt_int(optarg, 1, 100000, "--limit"); break;
		case O_UNPACK: unpack = 1; break;
		case O_LIST: list = 1; break;
		case O_TIMEOUT: o.http.answer_timeout = (double)opt_int(optarg, 1, 86400, "--timeout"); break;
		case 'h': usage(stdout); out_close(); return 0;
		case 'V': opt_version();
		default: die_usage("unknown option");
		}
	}
	if (unpack) {
		struct lmu_err e = {{0}};
		if (argc - optind < 2)
			die_usage("--unpack needs ARCHIVE and DIR");
		if (!unpack_archive(argv[optind], argv[optind + 1], argv + optind + 2, argc - optind - 2, &e))
			die("%s", e.msg);
		out_close();
		return 0;
	}

	if (list) {
		/* the cache, then each DIR (default ./models when there is one) */
		struct stat st;
		char *cache = o.cache ? xstrdup(o.cache) : hf_hub_cache();
		char *dflt[] = {"models"};
		bool own = optind < argc;
		if (isatty(1))
			printf("REPO\tFILE\tARCH\tSIZE\tQUANT\n");
		modellist_print(cache, own ? argv + optind : dflt, own ? argc - optind : stat("models", &st) == 0, stdout);
		free(cache);
		out_close();
		return 0;
	}

	/* Test knobs, documented in hf-fetch(1): seconds before the first retry
	 * and the cap on any wait. */
	o.http.backoff = env_double("HF_FETCH_BACKOFF", 1.0, 0, 3600);
	o.http.max_wait = env_double("HF_FETCH_MAX_WAIT", 60.0, 0, 86400);
	o.http.connect_timeout = (long)env_double("HF_FETCH_CONNECT_TIMEOUT", 30, 1, 3600);
	if (!o.http.answer_timeout)
		o.http.answer_timeout = env_double("HF_FETCH_TIMEOUT", 30, 1, 86400);
	o.http.quiet = o.quiet;
	o.http.progress = !o.quiet && isatty(2);
	if (!o.endpoint)
		o.endpoint = (s = getenv("HF_ENDPOINT")) && *s ? s : "https://huggingface.co";
	ep = xstrdup(o.endpoint);
	n = strlen(ep);
	while (n > 0 && ep[n - 1] == '/')
		ep[--n] = '\0';
	if (strncmp(ep, "http://", 7) != 0 && strncmp(ep, "https://", 8) != 0)
		die_usage("--endpoint must be an http:// or https:// URL");
	o.endpoint = ep;
	o.offline = o.offline || truthy(getenv("HF_HUB_OFFLINE"));

	if (o.search) {
		if (optind != argc)
			die_usage("unexpected argument '%s' with --search", argv[optind]);
		if (o.offline)
			die("--search needs the network, and offline mode is on");
		token = load_token(o.token_file);
		o.http.token = token;
		http_init(&o.http);
		rc = do_search(&o, token);
		http_cleanup();
		free(token);
		free(ep);
		return rc;
	}
	if (optind >= argc)
		die_usage("no repo named (ORG/NAME)");
	o.repo = argv[optind++];
	if (!hf_repo_id_valid(o.repo))
		die_usage("'%s' is not a repo id (ORG/NAME)", o.repo);
	if (!hf_is_commit(o.revision) && !hf_safe_relpath(o.revision))
		die_usage("'%s' is not a usable revision", o.revision);
	o.pats = argv + optind;
	o.npats = argc - optind;
	if (o.offline) {
		char *cache = o.cache ? xstrdup(o.cache) : hf_hub_cache();
		char *repo_dir = hf_repo_dir(cache, o.repo), *snap;
		struct lmu_err e = {{0}};
		if (o.dry_run)
			die_usage("--dry-run needs the network's listing; not with --offline");
		if (!(snap = cached_snapshot(&o, repo_dir, &e)))
			die("%s: offline, and not in the cache %s: %s", o.repo, cache, e.msg);
		print_snapshot(snap);
		free(snap);
		free(repo_dir);
		free(cache);
		free(ep);
		return 0;
	}
	token = load_token(o.token_file);
	o.http.token = token;
	http_init(&o.http);
	rc = do_fetch(&o, token);
	http_cleanup();
	if (token) {
		memset(token, 0, strlen(token));
		free(token);
	}
	free(ep);
	free(o.incl);
	free(o.excl);
	return rc;
}
