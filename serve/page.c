/* page.c - GET /: the chat page.
 *
 * serve/page.html is built into the binary as it is (the assembler's
 * .incbin; serve/module.mk makes page.o depend on it): no build step, and
 * the page loads nothing from anywhere.  It goes out with a
 * Content-Security-Policy that lets it run its own script and style (by
 * their sha256, computed here once) and talk to this server only, and
 * with an ETag so that a browser asks again cheaply. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "sha.h"
#include "webchat.h"

__asm__(".section .rodata\n"
	".balign 16\n"
	"lmu_page_html:\n"
	".incbin \"serve/page.html\"\n"
	"lmu_page_html_end:\n"
	".byte 0\n"
	".previous\n");
extern const char lmu_page_html[], lmu_page_html_end[];

static char etag[24];
static char csp[512];

static void base64(const unsigned char *p, size_t n, char *out)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i, k = 0;
	for (i = 0; i + 2 < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
		out[k++] = a[v >> 18];
		out[k++] = a[(v >> 12) & 63];
		out[k++] = a[(v >> 6) & 63];
		out[k++] = a[v & 63];
	}
	if (i < n) {
		unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0);
		out[k++] = a[v >> 18];
		out[k++] = a[(v >> 12) & 63];
		out[k++] = i + 1 < n ? a[(v >> 6) & 63] : '=';
		out[k++] = '=';
	}
	out[k] = 0;
}

/* 'sha256-...' of the text between <tag> and </tag> in the page. */
static void source_hash(const char *tag, char *out, size_t n)
{
	char open[16], close[16], hex[65];
	unsigned char raw[32];
	snprintf(open, sizeof open, "<%s>", tag);
	snprintf(close, sizeof close, "</%s>", tag);
	const char *a = strstr(lmu_page_html, open), *b = a ? strstr(a, close) : NULL;
	if (!a || !b)
		die("the chat page has no <%s>", tag);
	a += strlen(open);
	struct sha256 c;
	sha256_init(&c);
	sha256_update(&c, a, (size_t)(b - a));
	sha256_hex(&c, hex);
	for (int i = 0; i < 32; i++)
		sscanf(hex + 2 * i, "%2hhx", &raw[i]);
	char b64[48];
	base64(raw, sizeof raw, b64);
	snprintf(out, n, "'sha256-%s'", b64);
}

static int page(struct req *r)
{
	size_t n = (size_t)(lmu_page_html_end - lmu_page_html);
	const char *inm = req_header(r, "If-None-Match");
	char extra[1024];
	snprintf(extra, sizeof extra,
		 "ETag: %s\r\nContent-Security-Policy: %s\r\nX-Content-Type-Options: nosniff\r\n"
		 "Referrer-Policy: no-referrer\r\nX-Frame-Options: DENY\r\n",
		 etag, csp);
	if (inm && strcmp(inm, etag) == 0)
		return reply(r, 304, "text/html; charset=utf-8", "", 0, extra);
	return reply(r, 200, "text/html; charset=utf-8", lmu_page_html, n, extra);
}

void page_routes(struct server *s)
{
	char script[64], style[64];
	size_t n = (size_t)(lmu_page_html_end - lmu_page_html);
	unsigned long long h = 1469598103934665603ull;  /* FNV-1a: the ETag */
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)lmu_page_html[i]) * 1099511628211ull;
	snprintf(etag, sizeof etag, "\"%016llx\"", h);
	source_hash("script", script, sizeof script);
	source_hash("style", style, sizeof style);
	snprintf(csp, sizeof csp,
		 "default-src 'none'; script-src %s; style-src %s; connect-src 'self'; img-src 'self' data: blob:; "
		 "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
		 script, style);
	/* the page asks for nothing secret: no key needed to load it */
	server_route(s, "GET", "/", ROUTE_PUBLIC, page);
}
