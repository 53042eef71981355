#include "state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch.h"
#include "err.h"
#include "le.h"

#define STATE_MAGIC "LMUSTATE"
#define STATE_VERSION 2
#define STATE_FIXED 96      /* the header before the per-layer table */
#define STATE_ARCH 32       /* bytes of the architecture name */
#define TMP_SUFFIX ".tmp."  /* a temporary file is path + TMP_SUFFIX + 6 characters */

static void check_host(void)
{
	if (__BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__)
		die("state files need a little-endian host");
}

/* What layer l keeps of a context of n_pos positions: all of them, or
 * for a local layer the window's n_swa - 1 last ones (what the next
 * position attends to besides itself). */
static uint32_t layer_rows(const struct context *c, uint32_t l, uint64_t n_pos)
{
	uint32_t w = c->t->hp.n_swa;
	if (c->kv[l].local && n_pos > w - 1)
		return w - 1;
	return (uint32_t)n_pos;
}

/* Read or write the keys or values of positions n_pos - rows .. n_pos - 1
 * of a layer's cache, whose ring may wrap them: two runs of rows. */
static bool io_rows(FILE *f, float *cache, const struct kv_cache *kv, size_t kv_dim, uint64_t n_pos, size_t rows,
		    bool write)
{
	size_t start = (n_pos - rows) % kv->rows, n0 = rows < kv->rows - start ? rows : kv->rows - start;
	size_t row = sizeof(float) * kv_dim;
	if (write)
		return fwrite(cache + start * kv_dim, row, n0, f) == n0 &&
		       fwrite(cache, row, rows - n0, f) == rows - n0;
	return fread(cache + start * kv_dim, row, n0, f) == n0 && fread(cache, row, rows - n0, f) == rows - n0;
}

static uint32_t layer_kv_dim(const struct context *c, uint32_t l)
{
	(void)l;
	return c->t->hp.n_head_kv * c->t->hp.head_dim;
}

/* The header this context writes for n_pos positions (STATE_FIXED + 8 *
 * n_layer bytes). */
static uint8_t *header(const struct context *c, uint64_t n_pos, size_t *len)
{
	const struct hparams *hp = &c->t->hp;
	uint32_t f[4] = {hp->n_layer, hp->n_embd, hp->n_vocab, 0};
	uint8_t *h;

	*len = STATE_FIXED + 8 * (size_t)hp->n_layer;
	h = xcalloc(1, *len);
	memcpy(h, STATE_MAGIC, 8);
	put_le(h + 8, STATE_VERSION, 4);
	put_le(h + 12, *len, 4);
	put_le(h + 16, c->t->id, 8);
	memcpy(h + 24, hp->arch, strnlen(hp->arch, STATE_ARCH));
	for (int i = 0; i < 4; i++)
		put_le(h + 56 + 4 * i, f[i], 4);
	put_le(h + 72, n_pos, 8);
	for (uint32_t l = 0; l < hp->n_layer; l++) {
		put_le(h + STATE_FIXED + 8 * l, layer_kv_dim(c, l), 4);
		put_le(h + STATE_FIXED + 8 * l + 4, layer_rows(c, l, n_pos), 4);
	}
	return h;
}

/* Read the header of f (size bytes) and check it against this context;
 * die saying what differs.  Return the positions it holds. */
static uint64_t check_header(const struct context *c, const char *path, FILE *f, uint64_t size)
{
	const struct hparams *hp = &c->t->hp;
	uint8_t fixed[STATE_FIXED], *want, *h;
	size_t len;

	if (fread(fixed, 1, STATE_FIXED, f) != STATE_FIXED || memcmp(fixed, STATE_MAGIC, 8) != 0)
		die("%s: not an lm-step state file", path);
	if (get_le(fixed + 8, 4) != STATE_VERSION)
		die("%s: state file version %u is not supported (this lm-step reads and writes version %d)", path,
		    (unsigned)get_le(fixed + 8, 4), STATE_VERSION);
	uint64_t n_layer = get_le(fixed + 56, 4), hsize = get_le(fixed + 12, 4);
	if (n_layer > MAX_LAYERS || hsize != STATE_FIXED + 8 * n_layer || hsize > size)
		die("%s: state file header size %llu is wrong (%d + 8 per layer for %llu layers, in a file of %llu bytes)",
		    path, (unsigned long long)hsize, STATE_FIXED, (unsigned long long)n_layer, (unsigned long long)size);
	uint64_t n_pos = get_le(fixed + 72, 8);
	want = header(c, n_pos, &len);
	h = xmalloc(hsize);
	memcpy(h, fixed, STATE_FIXED);
	if (fread(h + STATE_FIXED, 1, hsize - STATE_FIXED, f) != hsize - STATE_FIXED)
		die("%s: state file cut short", path);
	if (memcmp(h + 24, want + 24, STATE_ARCH) != 0)
		die("%s: state file was made for a model of architecture '%.*s', this one is '%s'", path, STATE_ARCH,
		    (const char *)h + 24, hp->arch);
	if (memcmp(h + 16, want + 16, 8) != 0)
		die("%s: state file was made for another model (model id %016llx, this model %016llx)", path,
		    (unsigned long long)get_le(h + 16, 8), (unsigned long long)c->t->id);
	if (memcmp(h + 56, want + 56, 16) != 0)
		die("%s: state file has %u layers, %u wide, vocabulary %u, KV type %u; this model %u, %u, %u, 0", path,
		    (unsigned)get_le(h + 56, 4), (unsigned)get_le(h + 60, 4), (unsigned)get_le(h + 64, 4),
		    (unsigned)get_le(h + 68, 4), hp->n_layer, hp->n_embd, hp->n_vocab);
	for (uint32_t l = 0; l < hp->n_layer; l++) {
		const uint8_t *a = h + STATE_FIXED + 8 * l, *b = want + STATE_FIXED + 8 * l;
		if (memcmp(a, b, 8) != 0)
			die("%s: state file: layer %u keeps %u positions of %u values, this model %u of %u", path, l,
			    (unsigned)get_le(a + 4, 4), (unsigned)get_le(a, 4), (unsigned)get_le(b + 4, 4),
			    (unsigned)get_le(b, 4));
	}
	if (memcmp(h, want, len) != 0)
		die("%s: state file header does not match the model", path);
	free(h);
	free(want);
	return n_pos;
}

int state_lock(const char *path)
{
	bool said = false;
	for (;;) {
		struct stat st, now;
		int fd = open(path, O_RDONLY | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0600);
		if (fd < 0)
			die("%s: %s", path, strerror(errno));
		if (fstat(fd, &st) != 0)
			die("%s: %s", path, strerror(errno));
		if (!S_ISREG(st.st_mode))
			die("%s: not a regular file (a state file is written by lm-step --state)", path);
		if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
			if (errno != EWOULDBLOCK) {
				warnx_("%s: cannot lock (%s): not protected from other lm-step processes", path,
				       strerror(errno));
				return fd;
			}
			if (!said)
				warnx_("%s: in use by another lm-step: waiting for it to finish", path);
			said = true;
			if (flock(fd, LOCK_EX) != 0)
				die("%s: cannot lock: %s", path, strerror(errno));
		}
		/* a save renames a new file over path: after a wait the lock may be
		 * on the old one; then lock the new one */
		if (stat(path, &now) == 0 && now.st_dev == st.st_dev && now.st_ino == st.st_ino)
			return fd;
		close(fd);
	}
}

bool state_load(struct context *c, const char *path)
{
	const struct hparams *hp = &c->t->hp;
	struct stat st;
	int fd;
	FILE *f;

	check_host();
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return false;
		die("%s: %s", path, strerror(errno));
	}
	if (fstat(fd, &st) != 0)
		die("%s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		die("%s: not a regular file (a state file is written by lm-step --state)", path);
	if (st.st_size == 0) {
		close(fd);
		return false;  /* made by state_lock, or by a run that saved nothing */
	}
	f = fdopen(fd, "rb");
	if (!f)
		die("%s: %s", path, strerror(errno));
	uint64_t n_pos = check_header(c, path, f, (uint64_t)st.st_size);
	if (n_pos > c->n_ctx)
		die("%s: state file holds %llu positions, more than the context size %u (-c)", path,
		    (unsigned long long)n_pos, c->n_ctx);
	uint64_t size = STATE_FIXED + 8ull * hp->n_layer + 4 * n_pos;
	for (uint32_t l = 0; l < hp->n_layer; l++)
		size += 2ull * layer_rows(c, l, n_pos) * layer_kv_dim(c, l) * sizeof(float);
	if ((uint64_t)st.st_size != size)
		die("%s: state file has %lld bytes, expected %llu for %llu positions", path, (long long)st.st_size,
		    (unsigned long long)size, (unsigned long long)n_pos);
	if (fread(c->ids, sizeof *c->ids, n_pos, f) != n_pos)
		die("%s: state file cut short", path);
	for (uint64_t i = 0; i < n_pos; i++)
		if (c->ids[i] < 0 || (uint32_t)c->ids[i] >= hp->n_vocab)
			die("%s: state file: id %d at position %llu is out of range", path, c->ids[i],
			    (unsigned long long)i);
	c->swa_lo = 0;
	for (uint32_t l = 0; l < hp->n_layer; l++) {
		const struct kv_cache *kv = &c->kv[l];
		size_t rows = layer_rows(c, l, n_pos), kv_dim = layer_kv_dim(c, l);
		if (!io_rows(f, kv->k, kv, kv_dim, n_pos, rows, false) || !io_rows(f, kv->v, kv, kv_dim, n_pos, rows, false))
			die("%s: state file cut short", path);
		if (kv->local)
			c->swa_lo = (uint32_t)(n_pos - rows);
	}
	fclose(f);
	c->n_pos = c->n_cached = (uint32_t)n_pos;
	c->rope_long = c->t->w.inv_freq_long && n_pos > c->t->hp.rope_orig_ctx;
	return true;
}

/* Remove what saves killed before their rename left beside path: files
 * named path + TMP_SUFFIX + 6 characters that are empty or begin like a
 * state file.  The caller holds the lock, so no live lm-step writes one. */
static void remove_stale(const char *path)
{
	char *d = xstrdup(path), *b = xstrdup(path);
	const char *dir = dirname(d), *base = basename(b);
	size_t blen = strlen(base), slen = strlen(TMP_SUFFIX);
	DIR *dp = opendir(dir);
	struct dirent *de;

	while (dp && (de = readdir(dp))) {
		const char *n = de->d_name;
		if (strlen(n) != blen + slen + 6 || memcmp(n, base, blen) != 0 || memcmp(n + blen, TMP_SUFFIX, slen) != 0)
			continue;
		char *full = xmalloc(strlen(dir) + strlen(n) + 2), magic[8];
		struct stat st;
		sprintf(full, "%s/%s", dir, n);
		int fd = open(full, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
		    (st.st_size == 0 || (read(fd, magic, 8) == 8 && memcmp(magic, STATE_MAGIC, 8) == 0)))
			unlink(full);
		if (fd >= 0)
			close(fd);
		free(full);
	}
	if (dp)
		closedir(dp);
	free(d);
	free(b);
}

void state_save(const struct context *c, const char *path)
{
	const struct hparams *hp = &c->t->hp;
	size_t n_pos = c->n_pos, len = strlen(path), hlen;
	char *tmp = xmalloc(len + strlen(TMP_SUFFIX) + 7);
	uint8_t *h;
	int fd, ok;
	FILE *f;

	check_host();
	remove_stale(path);
	sprintf(tmp, "%s%sXXXXXX", path, TMP_SUFFIX);
	fd = mkstemp(tmp);
	if (fd < 0)
		die("%s: cannot create a temporary file beside it: %s", path, strerror(errno));
	f = fdopen(fd, "wb");
	if (!f)
		die("%s: %s", tmp, strerror(errno));
	h = header(c, n_pos, &hlen);
	ok = fwrite(h, 1, hlen, f) == hlen && fwrite(c->ids, sizeof *c->ids, n_pos, f) == n_pos;
	free(h);
	for (uint32_t l = 0; ok && l < hp->n_layer; l++) {
		const struct kv_cache *kv = &c->kv[l];
		size_t rows = layer_rows(c, l, n_pos), kv_dim = layer_kv_dim(c, l);
		ok = io_rows(f, kv->k, kv, kv_dim, n_pos, rows, true) && io_rows(f, kv->v, kv, kv_dim, n_pos, rows, true);
	}
	ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
	int saved = errno;
	if (fclose(f) != 0 && ok) {
		ok = 0;
		saved = errno;
	}
	if (!ok || rename(tmp, path) != 0) {
		if (ok)
			saved = errno;
		unlink(tmp);
		die("%s: cannot save the state: %s", path, strerror(saved));
	}
	free(tmp);
}
