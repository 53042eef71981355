#include "state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"

#define STATE_MAGIC "LMUSTATE"
#define STATE_VERSION 1
#define STATE_HDR 64

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void header(const struct context *c, uint8_t h[STATE_HDR], uint64_t n_pos)
{
	const struct hparams *hp = &c->t->hp;
	uint32_t f[6] = {hp->n_layer, hp->n_head_kv, hp->head_dim, hp->n_embd, hp->n_vocab, 0};

	memset(h, 0, STATE_HDR);
	memcpy(h, STATE_MAGIC, 8);
	put_le(h + 8, STATE_VERSION, 4);
	put_le(h + 12, STATE_HDR, 4);
	put_le(h + 16, c->t->id, 8);
	for (int i = 0; i < 6; i++)
		put_le(h + 24 + 4 * i, f[i], 4);
	put_le(h + 48, n_pos, 8);
}

static void check_host(void)
{
	if (__BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__)
		die("state files need a little-endian host");
}

bool state_load(struct context *c, const char *path)
{
	const struct hparams *hp = &c->t->hp;
	size_t kv_dim = (size_t)hp->n_head_kv * hp->head_dim;
	uint8_t h[STATE_HDR], want[STATE_HDR];
	struct stat st;
	FILE *f;

	check_host();
	f = fopen(path, "rb");
	if (!f) {
		if (errno == ENOENT)
			return false;
		die("%s: %s", path, strerror(errno));
	}
	if (fstat(fileno(f), &st) != 0)
		die("%s: %s", path, strerror(errno));
	if (fread(h, 1, STATE_HDR, f) != STATE_HDR || memcmp(h, STATE_MAGIC, 8) != 0)
		die("%s: not an lm-step state file", path);
	if (get_le(h + 8, 4) != STATE_VERSION || get_le(h + 12, 4) != STATE_HDR)
		die("%s: state file version %u is not supported (this lm-step writes %d)", path,
		    (unsigned)get_le(h + 8, 4), STATE_VERSION);
	uint64_t n_pos = get_le(h + 48, 8);
	header(c, want, n_pos);
	if (memcmp(h + 16, want + 16, 8) != 0)
		die("%s: state file was made for another model (model id %016llx, this model %016llx)", path,
		    (unsigned long long)get_le(h + 16, 8), (unsigned long long)c->t->id);
	if (memcmp(h, want, STATE_HDR) != 0)
		die("%s: state file header does not match the model's dimensions", path);
	if (n_pos > c->n_ctx)
		die("%s: state file holds %llu positions, more than the context size %u (-c)", path,
		    (unsigned long long)n_pos, c->n_ctx);
	uint64_t size = STATE_HDR + 4 * n_pos + 2ull * hp->n_layer * n_pos * kv_dim * sizeof(float);
	if ((uint64_t)st.st_size != size)
		die("%s: state file has %lld bytes, expected %llu for %llu positions", path, (long long)st.st_size,
		    (unsigned long long)size, (unsigned long long)n_pos);
	if (fread(c->ids, sizeof *c->ids, n_pos, f) != n_pos)
		die("%s: state file cut short", path);
	for (uint64_t i = 0; i < n_pos; i++)
		if (c->ids[i] < 0 || (uint32_t)c->ids[i] >= hp->n_vocab)
			die("%s: state file: id %d at position %llu is out of range", path, c->ids[i],
			    (unsigned long long)i);
	for (uint32_t l = 0; l < hp->n_layer; l++) {
		float *k = c->kv[l].k, *v = c->kv[l].v;
		if (fread(k, sizeof(float) * kv_dim, n_pos, f) != n_pos ||
		    fread(v, sizeof(float) * kv_dim, n_pos, f) != n_pos)
			die("%s: state file cut short", path);
	}
	fclose(f);
	c->n_pos = c->n_cached = (uint32_t)n_pos;
	return true;
}

void state_save(const struct context *c, const char *path)
{
	const struct hparams *hp = &c->t->hp;
	size_t kv_dim = (size_t)hp->n_head_kv * hp->head_dim, n_pos = c->n_pos;
	size_t len = strlen(path);
	char *tmp = xmalloc(len + 8);
	uint8_t h[STATE_HDR];
	int fd, ok;
	FILE *f;

	check_host();
	memcpy(tmp, path, len);
	memcpy(tmp + len, ".XXXXXX", 8);
	fd = mkstemp(tmp);
	if (fd < 0)
		die("%s: cannot create a temporary file beside it: %s", path, strerror(errno));
	f = fdopen(fd, "wb");
	if (!f)
		die("%s: %s", tmp, strerror(errno));
	header(c, h, n_pos);
	ok = fwrite(h, 1, STATE_HDR, f) == STATE_HDR && fwrite(c->ids, sizeof *c->ids, n_pos, f) == n_pos;
	for (uint32_t l = 0; ok && l < hp->n_layer; l++) {
		const float *k = c->kv[l].k, *v = c->kv[l].v;
		ok = fwrite(k, sizeof(float) * kv_dim, n_pos, f) == n_pos && fwrite(v, sizeof(float) * kv_dim, n_pos, f) == n_pos;
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
