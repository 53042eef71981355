/* SHA-256 and SHA-1 as specified in FIPS 180-4. */
#include "sha.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
#define ROL(x, n) (((x) << (n)) | ((x) >> (32 - (n))))

static const uint32_t K256[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void sha256_block(uint32_t h[8], const unsigned char *p)
{
	uint32_t w[64], a, b, c, d, e, f, g, k, t1, t2;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = be32(p + 4 * i);
	for (; i < 64; i++) {
		uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	a = h[0]; b = h[1]; c = h[2]; d = h[3]; e = h[4]; f = h[5]; g = h[6]; k = h[7];
	for (i = 0; i < 64; i++) {
		t1 = k + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K256[i] + w[i];
		t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
		k = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
	}
	h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += k;
}

static void sha1_block(uint32_t h[5], const unsigned char *p)
{
	uint32_t w[80], a, b, c, d, e, f, k, t;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = be32(p + 4 * i);
	for (; i < 80; i++)
		w[i] = ROL(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	a = h[0]; b = h[1]; c = h[2]; d = h[3]; e = h[4];
	for (i = 0; i < 80; i++) {
		if (i < 20) { f = (b & c) | (~b & d); k = 0x5a827999; }
		else if (i < 40) { f = b ^ c ^ d; k = 0x6ed9eba1; }
		else if (i < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8f1bbcdc; }
		else { f = b ^ c ^ d; k = 0xca62c1d6; }
		t = ROL(a, 5) + f + e + k + w[i];
		e = d; d = c; c = ROL(b, 30); b = a; a = t;
	}
	h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
}

/* Both hashes share the Merkle-Damgard padding; only the block function
 * and the state size differ. */
static void md_update(uint32_t *h, unsigned char buf[64], size_t *nbuf, uint64_t *len,
		      void (*block)(uint32_t *, const unsigned char *), const void *data, size_t n)
{
	const unsigned char *p = data;

	*len += n;
	while (n > 0) {
		size_t k = 64 - *nbuf < n ? 64 - *nbuf : n;
		if (*nbuf == 0 && n >= 64) {
			block(h, p);
			p += 64; n -= 64;
			continue;
		}
		memcpy(buf + *nbuf, p, k);
		*nbuf += k; p += k; n -= k;
		if (*nbuf == 64) {
			block(h, buf);
			*nbuf = 0;
		}
	}
}

static void md_final(uint32_t *h, int nh, unsigned char buf[64], size_t nbuf, uint64_t len,
		     void (*block)(uint32_t *, const unsigned char *), char *out)
{
	uint64_t bits = len * 8;
	int i;

	buf[nbuf++] = 0x80;
	if (nbuf > 56) {
		memset(buf + nbuf, 0, 64 - nbuf);
		block(h, buf);
		nbuf = 0;
	}
	memset(buf + nbuf, 0, 56 - nbuf);
	for (i = 0; i < 8; i++)
		buf[56 + i] = (unsigned char)(bits >> (56 - 8 * i));
	block(h, buf);
	for (i = 0; i < nh; i++)
		sprintf(out + 8 * i, "%08x", (unsigned)h[i]);
}

static void sha256_blockfn(uint32_t *h, const unsigned char *p) { sha256_block(h, p); }
static void sha1_blockfn(uint32_t *h, const unsigned char *p) { sha1_block(h, p); }

void sha256_init(struct sha256 *c)
{
	static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
				       0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
	memcpy(c->h, iv, sizeof iv);
	c->len = 0;
	c->nbuf = 0;
}

void sha256_update(struct sha256 *c, const void *p, size_t n)
{
	md_update(c->h, c->buf, &c->nbuf, &c->len, sha256_blockfn, p, n);
}

void sha256_hex(struct sha256 *c, char out[65])
{
	md_final(c->h, 8, c->buf, c->nbuf, c->len, sha256_blockfn, out);
}

void sha1_init(struct sha1 *c)
{
	static const uint32_t iv[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0};
	memcpy(c->h, iv, sizeof iv);
	c->len = 0;
	c->nbuf = 0;
}

void sha1_update(struct sha1 *c, const void *p, size_t n)
{
	md_update(c->h, c->buf, &c->nbuf, &c->len, sha1_blockfn, p, n);
}

void sha1_hex(struct sha1 *c, char out[41])
{
	md_final(c->h, 5, c->buf, c->nbuf, c->len, sha1_blockfn, out);
}

static int hash_file(const char *path, int git, char *out)
{
	static unsigned char buf[1 << 16];
	struct sha256 s2;
	struct sha1 s1;
	struct stat st;
	size_t n;
	FILE *f = fopen(path, "rb");

	if (!f)
		return 0;
	if (git) {
		char hdr[32];
		if (fstat(fileno(f), &st) != 0) {
			fclose(f);
			return 0;
		}
		sha1_init(&s1);
		n = (size_t)snprintf(hdr, sizeof hdr, "blob %lld", (long long)st.st_size);
		sha1_update(&s1, hdr, n + 1); /* the NUL is part of the header */
	} else {
		sha256_init(&s2);
	}
	while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
		if (git)
			sha1_update(&s1, buf, n);
		else
			sha256_update(&s2, buf, n);
	}
	if (ferror(f)) {
		int e = errno;
		fclose(f);
		errno = e ? e : EIO;
		return 0;
	}
	fclose(f);
	if (git)
		sha1_hex(&s1, out);
	else
		sha256_hex(&s2, out);
	return 1;
}

int file_sha256(const char *path, char out[65]) { return hash_file(path, 0, out); }
int file_gitsha1(const char *path, char out[41]) { return hash_file(path, 1, out); }
