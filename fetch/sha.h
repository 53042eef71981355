/* sha.h - SHA-256 (LFS file ids) and SHA-1 (git blob ids), enough to check
 * every file the Hub sends before it is moved into the cache. */
#ifndef LMU_SHA_H
#define LMU_SHA_H

#include <stddef.h>
#include <stdint.h>

struct sha256 {
	uint32_t h[8];
	uint64_t len;
	unsigned char buf[64];
	size_t nbuf;
};
void sha256_init(struct sha256 *c);
void sha256_update(struct sha256 *c, const void *p, size_t n);
void sha256_hex(struct sha256 *c, char out[65]);

struct sha1 {
	uint32_t h[5];
	uint64_t len;
	unsigned char buf[64];
	size_t nbuf;
};
void sha1_init(struct sha1 *c);
void sha1_update(struct sha1 *c, const void *p, size_t n);
void sha1_hex(struct sha1 *c, char out[41]);

/* Hash a whole file: SHA-256 of its bytes, and the git blob id
 * (SHA-1 of "blob <size>\0" + bytes).  Return 0 and set errno on failure. */
int file_sha256(const char *path, char out[65]);
int file_gitsha1(const char *path, char out[41]);

#endif
