/* risk.c - a rule table over the simple commands of a shell command line
 * (the table and how to add a row: "the rule table" below).
 *
 * Every simple command that shellparse.c finds is judged on its own, after
 * the wrappers in front of it are peeled off (sudo env nohup timeout xargs
 * busybox ...), and again wherever it hands code to another interpreter
 * (sh -c, eval, su -c, find -exec, watch, ssh host CMD, a here-document or
 * a pipe into a shell, base64/xxd/rev decoders in front of a shell).  A few
 * rules look across commands: a download followed by running the file, a
 * credential read whose bytes go to a network tool, a function that calls
 * itself in a pipe (a fork bomb).  The verdict is the highest level found;
 * every finding is kept as a reason a person can read. */
#include "risk.h"
#include "codestr.h"
#include "shellparse.h"
#include "err.h"

#include <ctype.h>
#include <fnmatch.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define S RISK_SAFE
#define M RISK_MODERATE
#define H RISK_HIGH
#define C RISK_CRITICAL

#define MAX_TEXT_DEPTH 8   /* sh -c "sh -c '...'" nesting we follow */
#define MAX_TEXTS 256      /* scripts judged in all: each level may hold several */
#define MAX_DOWNLOADS 32

static const char *const level_names[] = {"safe", "moderate", "high", "critical"};

const char *risk_name(enum risk_level r) { return level_names[r]; }

int risk_exit_status(enum risk_level r)
{
	static const int status[] = {0, 3, 4, 5};
	return status[r];
}

static bool in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return true;
	return false;
}

static bool starts(const char *s, const char *prefix) { return !strncmp(s, prefix, strlen(prefix)); }

/* The descriptor below 10 that s names in digits ("5", "05"), else -1:
 * "&55555555555" is a descriptor too, and atoi() of it overflows. */
static int small_fd(const char *s)
{
	int v = 0;
	if (!*s)
		return -1;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s) || v >= 10)
			return -1;
		v = 10 * v + (*s - '0');
	}
	return v < 10 ? v : -1;
}

/* ---- verdicts ---- */

static enum risk_level reason_level(const char *reason)
{
	for (int l = RISK_CRITICAL; l > RISK_SAFE; l--)
		if (starts(reason, level_names[l]))
			return (enum risk_level)l;
	return RISK_SAFE;
}

/* Reasons stay ordered by level, highest first, in finding order within
 * a level; a repeated reason is kept once. */
static void verdict_add(struct verdict *v, enum risk_level level, const char *text)
{
	for (size_t i = 0; i < v->n; i++)
		if (!strcmp(v->reason[i], text))
			return;
	if (v->n >= 64)
		return;
	size_t at = 0;
	while (at < v->n && reason_level(v->reason[at]) >= level)
		at++;
	v->reason = xreallocarray(v->reason, v->n + 1, sizeof *v->reason);
	memmove(v->reason + at + 1, v->reason + at, (v->n - at) * sizeof *v->reason);
	v->reason[at] = xstrdup(text);
	v->n++;
	if (level > v->level)
		v->level = level;
}

void verdict_merge(struct verdict *dst, const struct verdict *src, const char *prefix)
{
	for (size_t i = 0; i < src->n; i++) {
		enum risk_level l = reason_level(src->reason[i]);
		const char *rest = src->reason[i] + strlen(level_names[l]) + 2;
		char text[512];
		snprintf(text, sizeof text, "%s: %s%s", level_names[l], prefix, rest);
		verdict_add(dst, l, text);
	}
	if (src->level > dst->level)
		dst->level = src->level;
}

void verdict_free(struct verdict *v)
{
	for (size_t i = 0; i < v->n; i++)
		free(v->reason[i]);
	free(v->reason);
	memset(v, 0, sizeof *v);
}

/* ---- judging state ---- */

struct judge {
	struct verdict *v;
	int depth;
	char *downloads[MAX_DOWNLOADS];  /* basenames of files a fetcher writes */
	int n_downloads;
	char *written[MAX_DOWNLOADS];    /* basenames of files written with fixed text */
	char *content[MAX_DOWNLOADS];    /* ... and that text */
	bool decoded[MAX_DOWNLOADS];     /* ... which a decoder made from hidden text */
	int n_written;
	int texts;                       /* scripts judged so far (MAX_TEXTS) */
	bool xargs_child;                /* judging a command that xargs runs (its input: /dev/null) */
};

static void judge_text(struct judge *j, const char *text, size_t len);

/* A short printable rendering of a command for the reasons. */
static void show(const struct sh_word *w, size_t n, char *out, size_t size)
{
	size_t k = 0;
	out[0] = '\0';
	for (size_t i = 0; i < n && k + 4 < size; i++) {
		if (i)
			out[k++] = ' ';
		for (const char *t = w[i].text; *t && k + 4 < size; t++)
			out[k++] = (*t == '\n' || *t == '\t') ? ' ' : *t;
	}
	if (k + 4 >= size)
		strcpy(out + size - 4, "...");
	else
		out[k] = '\0';
}

static void add(struct judge *j, enum risk_level level, const char *category, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void add(struct judge *j, enum risk_level level, const char *category, const char *fmt, ...)
{
	char detail[320], text[420];
	va_list ap;
	if (level == RISK_SAFE)
		return;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	snprintf(text, sizeof text, "%s: %s: %s", level_names[level], category, detail);
	verdict_add(j->v, level, text);
}

/* ---- paths ---- */

enum pclass {
	PC_REL,        /* relative, below the working directory */
	PC_TMP,        /* under /tmp or /var/tmp */
	PC_ABS,        /* some other absolute path */
	PC_CWD_ALL,    /* ., *, .., "../" and below: everything here or above */
	PC_HOME_UNDER, /* a file in a home directory */
	PC_HOME_DOT,   /* a dot file or directory in a home (configuration, keys) */
	PC_HOME,       /* a whole home directory, or all of them */
	PC_SYS_UNDER,  /* inside a system directory */
	PC_SYSDIR,     /* a system directory itself (/etc, /usr, /usr/bin) */
	PC_ROOT,       /* / or /ASTERISK */
	PC_VITAL,      /* a file the system cannot boot or log in without */
	PC_DEVICE,     /* a disk or memory device */
	PC_DEVSAFE,    /* /dev/null, /dev/tty, ... */
	PC_NET,        /* /dev/tcp, /dev/udp */
	PC_KERNEL,     /* /proc/sys, /sys, /proc/sysrq-trigger */
	PC_DYN,        /* known only at run time */
	PC_DYN_ROOT,   /* "$DIR/" : / itself when DIR is empty */
};

struct path {
	enum pclass cls;
	char norm[512];  /* normalised: "~/..." for homes, "/..." or relative */
};

static const char *const system_dirs[] = {"bin", "boot", "dev", "etc", "lib", "lib32", "lib64",
	"libx32", "opt", "proc", "root", "sbin", "srv", "sys", "usr", "var", "snap", "mnt", "media",
	"run", "System", "Library", "Applications", "private", NULL};

static bool is_devsafe(const char *rest)
{
	static const char *const safe[] = {"null", "zero", "stdout", "stderr", "stdin", "tty", "random",
		"urandom", "full", "ptmx", "console", NULL};
	return in_list(rest, safe) || starts(rest, "fd/") || starts(rest, "pts/") || starts(rest, "shm/") ||
	       (starts(rest, "tty") && !strchr(rest, '/'));
}

/* The directory that relative paths start from, as far as the script's
 * own cd commands tell ("" where they do not).  Judging is therefore not
 * reentrant across threads: one command line at a time. */
static char current_dir[512];

static void classify_path_in(const char *text, bool dynamic, bool lead_dynamic, struct path *out);

static void classify_path(const char *text, bool dynamic, bool lead_dynamic, struct path *out)
{
	char joined[1100];
	if (starts(text, "$PWD") && (text[4] == '\0' || text[4] == '/')) {
		snprintf(joined, sizeof joined, "%s%s", current_dir[0] ? current_dir : ".", text + 4);
		classify_path_in(joined, strchr(current_dir, '$') != NULL, current_dir[0] == '$', out);
		return;
	}
	if (current_dir[0] && text[0] != '/' && text[0] != '~' && text[0] != '$') {
		snprintf(joined, sizeof joined, "%s/%s", current_dir, text);
		classify_path_in(joined, dynamic || strchr(current_dir, '$'), current_dir[0] == '$', out);
		return;
	}
	classify_path_in(text, dynamic, lead_dynamic, out);
}

static void classify_path_in(const char *text, bool dynamic, bool lead_dynamic, struct path *out)
{
	char in[512], comp[64][128];
	int nc = 0;
	bool abs = false, home = false;
	const char *t = text;
	struct {
		const char *var;
		const char *repl;
	} homes[] = {{"$HOME", "~"}, {"$USERPROFILE", "~"}, {NULL, NULL}};

	out->norm[0] = '\0';
	snprintf(in, sizeof in, "%s", t);
	for (int h = 0; homes[h].var; h++) {
		size_t n = strlen(homes[h].var);
		if (starts(in, homes[h].var) && !isalnum((unsigned char)in[n]) && in[n] != '_') {
			char tmp[512];
			snprintf(tmp, sizeof tmp, "~%s", in + n);
			snprintf(in, sizeof in, "%s", tmp);
			lead_dynamic = false;
			dynamic = strchr(in, '$') != NULL;
		}
	}
	if (lead_dynamic || (in[0] == '$')) {
		const char *p = in + 1;
		if (*p == '(') {
			p = strchr(p, ')');
			p = p ? p + 1 : in + strlen(in);
		} else {
			while (*p == '_' || isalnum((unsigned char)*p) || *p == '{' || *p == '}')
				p++;
		}
		out->cls = (!strcmp(p, "/") || !strcmp(p, "/*") || !strcmp(p, "/.") || !strcmp(p, "/.*")) ? PC_DYN_ROOT : PC_DYN;
		snprintf(out->norm, sizeof out->norm, "%s", in);
		return;
	}
	if (dynamic) {
		/* keep the fixed prefix: "/etc/$x" is somewhere in /etc */
		char *d = strchr(in, '$');
		if (d) {
			if (d == in + 1 && in[0] == '/') {
				out->cls = PC_DYN_ROOT;
				snprintf(out->norm, sizeof out->norm, "%s", in);
				return;
			}
			*d = 'x';
			d[1] = '\0';
		}
	}
	t = in;
	if (t[0] == '~') {
		home = true;
		t++;
		if (*t && *t != '/') {  /* ~user */
			char user[128];
			size_t n = strcspn(t, "/");
			snprintf(user, sizeof user, "%.*s", (int)(n < 127 ? n : 127), t);
			t += n;
			if (!strcmp(user, "root")) {
				home = false;
				abs = true;
				snprintf(comp[nc++], sizeof comp[0], "root");
			} else {
				home = false;
				abs = true;
				snprintf(comp[nc++], sizeof comp[0], "home");
				snprintf(comp[nc++], sizeof comp[0], "%s", user);
			}
		}
	} else if (t[0] == '/') {
		abs = true;
	}
	while (*t && nc < 64) {
		while (*t == '/')
			t++;
		if (!*t)
			break;
		size_t n = strcspn(t, "/");
		char c[128];
		snprintf(c, sizeof c, "%.*s", (int)(n < 127 ? n : 127), t);
		t += n;
		if (!strcmp(c, "."))
			continue;
		if (!strcmp(c, "..") && (abs || home)) {
			if (nc > 0)
				nc--;
			else if (home) {  /* ~/.. is /home */
				home = false;
				abs = true;
				snprintf(comp[nc++], sizeof comp[0], "home");
			}
			continue;
		}
		if (!strcmp(c, "..") && nc > 0 && strcmp(comp[nc - 1], "..")) {
			nc--;
			continue;
		}
		snprintf(comp[nc++], sizeof comp[0], "%s", c);
	}
	size_t k = 0;
	k += (size_t)snprintf(out->norm, sizeof out->norm, "%s", home ? "~" : abs ? "" : nc ? "" : ".");
	for (int i = 0; i < nc && k < sizeof out->norm; i++)
		k += (size_t)snprintf(out->norm + k, sizeof out->norm - k, "%s%s", (i || home || abs) ? "/" : "", comp[i]);
	if (abs && nc == 0)
		snprintf(out->norm, sizeof out->norm, "/");

	bool all = nc == 0 || (nc == 1 && (!strcmp(comp[0], "*") || !strcmp(comp[0], ".*")));
	if (home) {
		out->cls = all ? PC_HOME : comp[0][0] == '.' ? PC_HOME_DOT : PC_HOME_UNDER;
		return;
	}
	if (!abs) {
		bool up = true;
		for (int i = 0; i < nc; i++)
			if (strcmp(comp[i], "..") && !(i == nc - 1 && (!strcmp(comp[i], "*") || !strcmp(comp[i], ".*"))))
				up = false;
		out->cls = (all || up) ? PC_CWD_ALL : PC_REL;
		return;
	}
	if (all) {
		out->cls = PC_ROOT;
		return;
	}
	const char *n = out->norm;
	static const char *const vital[] = {"/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow",
		"/etc/sudoers", "/etc/fstab", "/etc/ld.so.preload", "/etc/pam.d", "/etc/inittab",
		"/etc/crypttab", "/bin/sh", "/bin/bash", "/usr/bin/sudo", NULL};
	if (in_list(n, vital) || starts(n, "/etc/sudoers.d") || starts(n, "/etc/pam.d/") ||
	    (!strcmp(comp[0], "boot") && nc >= 2)) {
		out->cls = PC_VITAL;
		return;
	}
	if (!strcmp(comp[0], "dev") && nc >= 2) {
		const char *rest = n + 5;
		out->cls = is_devsafe(rest) ? PC_DEVSAFE : (starts(rest, "tcp/") || starts(rest, "udp/")) ? PC_NET : PC_DEVICE;
		return;
	}
	if ((!strcmp(comp[0], "proc") && nc >= 2 && (!strcmp(comp[1], "sys") || !strcmp(comp[1], "sysrq-trigger"))) ||
	    (!strcmp(comp[0], "sys") && nc >= 2)) {
		out->cls = PC_KERNEL;
		return;
	}
	if ((!strcmp(comp[0], "tmp") && nc >= 2 && strcmp(comp[1], "*")) ||
	    (!strcmp(comp[0], "var") && nc >= 3 && !strcmp(comp[1], "tmp") && strcmp(comp[2], "*"))) {
		out->cls = PC_TMP;
		return;
	}
	if (!strcmp(comp[0], "tmp") || (!strcmp(comp[0], "var") && nc >= 2 && !strcmp(comp[1], "tmp"))) {
		out->cls = PC_SYS_UNDER;  /* all of /tmp: every user's files */
		return;
	}
	if (strpbrk(comp[0], "*?[")) {
		/* /e*, /???: a pattern that names system directories */
		for (const char *const *d = system_dirs; *d; d++)
			if (fnmatch(comp[0], *d, 0) == 0) {
				out->cls = nc == 1 ? PC_SYSDIR : PC_SYS_UNDER;
				return;
			}
		if (fnmatch(comp[0], "home", 0) == 0) {
			out->cls = nc <= 2 ? PC_HOME : PC_HOME_UNDER;
			return;
		}
	}
	if (!strcmp(comp[0], "home") || !strcmp(comp[0], "Users")) {
		bool whole = nc == 1 || nc == 2 || (nc == 3 && (!strcmp(comp[2], "*") || !strcmp(comp[2], ".*")));
		out->cls = whole ? PC_HOME : comp[2][0] == '.' ? PC_HOME_DOT : PC_HOME_UNDER;
		return;
	}
	if (in_list(comp[0], system_dirs)) {
		bool whole = nc == 1 || (nc == 2 && (!strcmp(comp[1], "*") || !strcmp(comp[1], ".*")));
		/* /usr/bin, /usr/lib, /var/lib ... are as vital as their parents */
		if (nc == 2 && (!strcmp(comp[0], "usr") || !strcmp(comp[0], "var")) && strcmp(comp[1], "tmp") && strcmp(comp[1], "log"))
			whole = true;
		out->cls = whole ? PC_SYSDIR : PC_SYS_UNDER;
		return;
	}
	out->cls = PC_ABS;
}

/* The part of a home-relative path after "~/", or NULL. */
static const char *home_rest(const struct path *p)
{
	if (starts(p->norm, "~/"))
		return p->norm + 2;
	if (starts(p->norm, "/root/"))
		return p->norm + 6;
	if (starts(p->norm, "/home/") || starts(p->norm, "/Users/")) {
		const char *s = strchr(p->norm + 6, '/');
		return s ? s + 1 : NULL;
	}
	return NULL;
}

static bool is_history_file(const struct path *p)
{
	const char *r = home_rest(p);
	if (!r || strchr(r, '/'))
		return false;
	size_t n = strlen(r);
	return (n > 8 && !strcmp(r + n - 8, "_history")) || !strcmp(r, ".histfile") || !strcmp(r, ".lesshst");
}

/* 0 none, 1 a credential, 2 the system's password hashes */
static int credential_kind(const struct path *p)
{
	static const char *const home_secrets[] = {".ssh", ".aws", ".netrc", ".git-credentials",
		".docker/config.json", ".kube", ".gnupg", ".password-store", ".pgpass", ".config/gh",
		".npmrc", ".pypirc", ".vault-token", ".mozilla", ".config/google-chrome", ".config/chromium",
		".local/share/keyrings", ".azure", ".config/gcloud", ".terraform.d", NULL};
	const char *n = p->norm;
	const char *base = sh_basename(n);
	if (!strcmp(n, "/etc/shadow") || !strcmp(n, "/etc/gshadow") || starts(n, "/etc/shadow"))
		return 2;
	if (starts(n, "/etc/ssh/ssh_host_") && !strstr(n, ".pub"))
		return 1;
	if (starts(n, "/proc/") && strstr(n, "/environ"))
		return 1;
	if (starts(base, "id_") && !strstr(base, ".pub") && (starts(base, "id_rsa") || starts(base, "id_ed25519") ||
							   starts(base, "id_ecdsa") || starts(base, "id_dsa")))
		return 1;
	const char *r = home_rest(p);
	if (!r)
		return 0;
	for (const char *const *s = home_secrets; *s; s++) {
		size_t k = strlen(*s);
		if (!strncmp(r, *s, k) && (r[k] == '\0' || r[k] == '/')) {
			/* public keys, known_hosts and the ssh client config are not secrets */
			if (!strcmp(*s, ".ssh") && (strstr(r, ".pub") || strstr(r, "known_hosts") || !strcmp(r, ".ssh/config")))
				return 0;
			return 1;
		}
	}
	return 0;
}

/* ---- levels for deleting and writing, by path class ---- */

static enum risk_level delete_level(const struct path *p, bool recursive)
{
	switch (p->cls) {
	case PC_ROOT: case PC_SYSDIR: case PC_VITAL: case PC_HOME:
		return C;
	case PC_SYS_UNDER: case PC_HOME_DOT: case PC_DYN_ROOT: case PC_DEVSAFE: case PC_KERNEL: case PC_DEVICE:
		return H;
	case PC_CWD_ALL:
		return recursive ? H : M;
	case PC_HOME_UNDER: case PC_ABS:
		return recursive ? M : S;
	case PC_DYN:
		return M;
	default:
		return S;
	}
}

static const char *describe(const struct path *p)
{
	switch (p->cls) {
	case PC_ROOT: return "the whole file system";
	case PC_SYSDIR: return "a system directory";
	case PC_SYS_UNDER: return "a path inside a system directory";
	case PC_VITAL: return "a file the system needs to boot or log in";
	case PC_HOME: return "a whole home directory";
	case PC_HOME_DOT: return "configuration or keys in a home directory";
	case PC_HOME_UNDER: return "files in a home directory";
	case PC_CWD_ALL: return "everything in the current or a parent directory";
	case PC_DYN_ROOT: return "the root directory if the variable is empty";
	case PC_DYN: return "a path known only when it runs";
	case PC_DEVICE: return "a disk or memory device";
	case PC_DEVSAFE: return "a device node";
	case PC_KERNEL: return "kernel settings";
	case PC_ABS: return "an absolute path";
	default: return "a path";
	}
}

static bool is_shell_rc(const struct path *p)
{
	static const char *const rc[] = {".bashrc", ".bash_profile", ".bash_login", ".profile", ".zshrc",
		".zprofile", ".zshenv", ".zlogin", ".kshrc", ".cshrc", ".tcshrc", ".xinitrc", ".xprofile",
		".config/fish/config.fish", NULL};
	const char *r = home_rest(p);
	return r && (in_list(r, rc) || starts(r, ".config/autostart"));
}

/* Inside the directories the system runs from (not /usr/local, /opt,
 * /var, /srv: places where local software and data live). */
static bool core_system(const struct path *p)
{
	static const char *const core[] = {"/etc/", "/boot/", "/bin/", "/sbin/", "/lib", "/usr/", "/root/",
		"/sys/", "/proc/", "/System/", "/Library/", NULL};
	if (starts(p->norm, "/usr/local/"))
		return false;
	for (const char *const *c = core; *c; c++)
		if (starts(p->norm, *c))
			return true;
	return false;
}

static void judge_write(struct judge *j, const struct sh_word *w, const char *what)
{
	struct path p;
	classify_path(w->text, w->dynamic, w->lead_dynamic, &p);
	const char *n = p.norm, *r = home_rest(&p);
	if (is_history_file(&p)) {
		add(j, H, "history", "%s overwrites the shell history %s", what, n);
		return;
	}
	if (r && (!strcmp(r, ".ssh/authorized_keys") || !strcmp(r, ".ssh/authorized_keys2"))) {
		add(j, H, "ssh-keys", "%s changes who may log in over ssh (%s)", what, n);
		return;
	}
	if (starts(n, "/etc/sudoers")) {
		add(j, C, "sudoers", "%s changes who may run commands as root (%s)", what, n);
		return;
	}
	if (starts(n, "/etc/cron") || starts(n, "/var/spool/cron") || starts(n, "/etc/anacrontab")) {
		add(j, H, "crontab", "%s installs a scheduled job (%s)", what, n);
		return;
	}
	if (!strcmp(n, "/proc/sysrq-trigger")) {
		add(j, C, "shutdown", "%s triggers a kernel SysRq action (reboot, crash) (%s)", what, n);
		return;
	}
	if (starts(n, "/etc/ssh/")) {
		add(j, H, "network", "%s changes the ssh server configuration (%s)", what, n);
		return;
	}
	switch (p.cls) {
	case PC_DEVICE:
		add(j, C, "disk", "%s writes raw data to %s, destroying what it holds", what, n);
		break;
	case PC_VITAL:
		add(j, C, "system-files", "%s overwrites %s (%s)", what, n, describe(&p));
		break;
	case PC_KERNEL:
		add(j, H, "kernel", "%s changes kernel settings (%s)", what, n);
		break;
	case PC_SYSDIR: case PC_SYS_UNDER: case PC_ROOT:
		add(j, p.cls == PC_SYS_UNDER && !core_system(&p) ? M : H, "system-files", "%s writes to %s (%s)", what, n, describe(&p));
		break;
	case PC_NET:
		add(j, M, "network", "%s sends data over the network (%s)", what, n);
		break;
	case PC_HOME_DOT:
		if (r && starts(r, ".ssh/"))
			add(j, H, "ssh-keys", "%s changes ssh keys or settings (%s)", what, n);
		else if (is_shell_rc(&p))
			add(j, M, "persistence", "%s changes a file run at every login (%s)", what, n);
		else if (credential_kind(&p))
			add(j, M, "credentials", "%s overwrites stored credentials (%s)", what, n);
		break;
	default:
		break;
	}
}

static void judge_delete(struct judge *j, const struct sh_word *w, bool recursive, const char *what, enum risk_level floor)
{
	struct path p;
	classify_path(w->text, w->dynamic, w->lead_dynamic, &p);
	enum risk_level l = delete_level(&p, recursive);
	if (is_history_file(&p)) {
		add(j, H, "history", "%s erases the shell history (%s)", what, p.norm);
		return;
	}
	if (l < floor)
		l = floor;
	add(j, l, "delete", "%s destroys %s: %s", what, p.norm, describe(&p));
}

/* ---- command names ---- */

static const char *const shells[] = {"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "fish",
	"csh", "tcsh", "yash", "rbash", "pwsh", "powershell", NULL};
static const char *const fetchers[] = {"curl", "wget", "fetch", "aria2c", "axel", "http", "https",
	"lwp-download", "lwp-request", "GET", "xh", "curlie", "wget2", NULL};
static const char *const net_tools[] = {"nc", "ncat", "netcat", "nc.traditional", "nc.openbsd",
	"socat", "telnet", "cryptcat", "pwncat", NULL};
static const char *const senders[] = {"curl", "wget", "nc", "ncat", "netcat", "nc.traditional",
	"nc.openbsd", "socat", "telnet", "ssh", "scp", "sftp", "rsync", "mail", "mailx", "sendmail",
	"mutt", "ftp", "tftp", "aws", "gsutil", "rclone", "http", "https", "xh", "s3cmd", "smbclient", NULL};

static bool is_interp(const char *name)
{
	static const char *const prefixes[] = {"python", "perl", "ruby", "node", "nodejs", "php", "lua",
		"Rscript", "tclsh", "deno", "bun", NULL};
	for (const char *const *p = prefixes; *p; p++) {
		size_t n = strlen(*p);
		if (!strncmp(name, *p, n) && (name[n] == '\0' || isdigit((unsigned char)name[n]) || name[n] == '.'))
			return true;
	}
	return false;
}

static bool is_shell(const char *name) { return in_list(name, shells); }

static const char *cmd_name(const struct sh_cmd *c, size_t *skip)
{
	/* the name after simple wrappers, for cross-command rules */
	static const char *const wrappers[] = {"sudo", "doas", "env", "nohup", "nice", "time", "command",
		"exec", "builtin", "busybox", "stdbuf", "setsid", "unbuffer", NULL};
	size_t i = 0;
	while (i < c->argc) {
		const char *n = sh_basename(c->argv[i].text);
		if (!in_list(n, wrappers) && !strchr(c->argv[i].text, '=') && c->argv[i].text[0] != '-')
			break;
		i++;
	}
	if (skip)
		*skip = i;
	return i < c->argc ? sh_basename(c->argv[i].text) : "";
}

/* ---- decoding what is piped into a shell ---- */

static int b64val(int c)
{
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '+' || c == '-') return 62;
	if (c == '/' || c == '_') return 63;
	return -1;
}

static bool decode_base64(const char *in, char **out)
{
	size_t n = strlen(in), k = 0;
	char *o = xmalloc(n + 1);
	unsigned acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		if (isspace((unsigned char)in[i]) || in[i] == '=')
			continue;
		int v = b64val((unsigned char)in[i]);
		if (v < 0) {
			free(o);
			return false;
		}
		acc = acc << 6 | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			o[k++] = (char)(acc >> bits & 0xff);
		}
	}
	o[k] = '\0';
	*out = o;
	return true;
}

static bool decode_hex(const char *in, char **out)
{
	size_t n = strlen(in), k = 0;
	char *o = xmalloc(n / 2 + 1);
	int hi = -1;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)in[i], v;
		if (isspace(c))
			continue;
		v = isdigit(c) ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
		if (v < 0) {
			free(o);
			return false;
		}
		if (hi < 0) {
			hi = v;
		} else {
			o[k++] = (char)(hi << 4 | v);
			hi = -1;
		}
	}
	o[k] = '\0';
	*out = o;
	return true;
}

/* One stage of a decoding pipeline; false when it cannot be followed. */
static bool decode_stage(const struct sh_cmd *c, char **text, bool *decoder)
{
	size_t skip;
	const char *n = cmd_name(c, &skip);
	const struct sh_word *a = c->argc ? c->argv + skip : NULL;
	size_t na = c->argc - skip;
	char *out = NULL;
	bool ok = false;
	if (!strcmp(n, "cat") && na == 1)
		return true;
	if (!strcmp(n, "base64") || !strcmp(n, "base32") || !strcmp(n, "basenc")) {
		bool decode = false;
		*decoder = true;
		for (size_t i = 1; i < na; i++)
			if (!strcmp(a[i].text, "-d") || !strcmp(a[i].text, "--decode") || !strcmp(a[i].text, "-D"))
				decode = true;  /* once, however often it is asked for */
		ok = decode && !strcmp(n, "base64") && decode_base64(*text, &out);
	} else if (!strcmp(n, "xxd")) {
		*decoder = true;
		bool r = false, plain = false;
		for (size_t i = 1; i < na; i++) {
			if (a[i].text[0] == '-' && strchr(a[i].text, 'r'))
				r = true;
			if (a[i].text[0] == '-' && strchr(a[i].text, 'p'))
				plain = true;
		}
		ok = r && plain && decode_hex(*text, &out);
	} else if (!strcmp(n, "rev") && na == 1) {
		*decoder = true;
		size_t len = strlen(*text);
		out = xmalloc(len + 1);
		/* reverse each line */
		size_t start = 0;
		for (size_t i = 0; i <= len; i++)
			if (i == len || (*text)[i] == '\n') {
				for (size_t k = start; k < i; k++)
					out[k] = (*text)[i - 1 - (k - start)];
				if (i < len)
					out[i] = '\n';
				start = i + 1;
			}
		out[len] = '\0';
		ok = true;
	} else if (!strcmp(n, "tr") && na == 3) {
		*decoder = true;
		if ((!strcmp(a[1].text, "A-Za-z") && !strcmp(a[2].text, "N-ZA-Mn-za-m")) ||
		    (!strcmp(a[1].text, "a-zA-Z") && !strcmp(a[2].text, "n-za-mN-ZA-M"))) {
			out = xstrdup(*text);
			for (char *p = out; *p; p++)
				if (isalpha((unsigned char)*p))
					*p = (char)((isupper((unsigned char)*p) ? 'A' : 'a') + ((tolower((unsigned char)*p) - 'a') + 13) % 26);
			ok = true;
		}
	} else if (in_list(n, (const char *const[]){"openssl", "gzip", "gunzip", "zcat", "bzcat", "xzcat",
			"zstdcat", "uudecode", "bzip2", "xz", "zstd", "lzma", "unxz", "perl", "python", "python3",
			"awk", "sed", "iconv", "dd", NULL})) {
		*decoder = true;
	}
	if (ok) {
		free(*text);
		*text = out;
	}
	return ok;
}

/* The fixed text a command writes: echo/printf of fixed words, or a
 * here-string / here-document given to cat, base64 ... */
/* Growing strings: a buffer made by str_new() holding len bytes has room
 * for the next power of two (at least 16), so appends are amortised. */
static size_t str_room(size_t bytes)
{
	size_t room = 16;
	while (room < bytes)
		room *= 2;
	return room;
}

static char *str_new(void) { return xcalloc(16, 1); }

static void append(char **out, size_t *len, const char *s)
{
	size_t n = strlen(s);
	if (str_room(*len + n + 1) > str_room(*len + 1))
		*out = xrealloc(*out, str_room(*len + n + 1));
	memcpy(*out + *len, s, n + 1);
	*len += n;
}

/* The fixed text a command writes: echo/printf of fixed words, or a
 * here-string / here-document given to cat, base64 ... */
static char *literal_output(const struct sh_cmd *c)
{
	size_t skip;
	const char *n = cmd_name(c, &skip);
	for (size_t i = 0; i < c->n_redir; i++)
		if (c->redir[i].op == SH_R_HERESTR || c->redir[i].op == SH_R_HEREDOC)
			return xstrdup(c->redir[i].target.text);
	if (strcmp(n, "echo") && strcmp(n, "printf"))
		return NULL;
	size_t i = skip + 1, len = 0;
	bool escapes = false;
	while (!strcmp(n, "echo") && i < c->argc && c->argv[i].text[0] == '-' && strlen(c->argv[i].text) == 2) {
		escapes = escapes || c->argv[i].text[1] == 'e';
		i++;
	}
	for (size_t k = i; k < c->argc; k++)
		if (c->argv[k].dynamic)
			return NULL;
	if (!strcmp(n, "printf"))
		return i < c->argc ? sh_printf(c->argv + i, c->argc - i) : xstrdup("");
	char *out = str_new();
	for (size_t k = i; k < c->argc; k++) {
		if (k > i)
			append(&out, &len, " ");
		if (escapes) {
			char *d = sh_c_escapes(c->argv[k].text, strlen(c->argv[k].text));
			append(&out, &len, d);
			free(d);
		} else {
			append(&out, &len, c->argv[k].text);
		}
	}
	return out;
}

/* What the pipeline up[0..n) writes, when its input is fixed text and
 * every stage can be followed (cat, base64 -d, xxd -r -p, rev, rot13);
 * NULL otherwise.  *decoder tells whether a decoding stage is in it. */
static char *pipeline_output(const struct sh_cmd *const *up, int n, bool *decoder)
{
	char *text = n > 0 ? literal_output(up[0]) : NULL;
	bool followed = text != NULL;
	/* a here-string feeds the first command, which may itself decode */
	const char *first = n > 0 ? cmd_name(up[0], NULL) : "";
	int from = (!strcmp(first, "echo") || !strcmp(first, "printf")) ? 1 : 0;
	for (int i = from; i < n && followed; i++)
		followed = decode_stage(up[i], &text, decoder);
	if (!followed) {
		for (int i = 0; i < n; i++) {
			char *dummy = xstrdup("");
			decode_stage(up[i], &dummy, decoder);
			free(dummy);
		}
		free(text);
		return NULL;
	}
	return text;
}

/* The fixed text command ci reads on its standard input: a here-document
 * or here-string, what the stages before it in its pipeline write when
 * that is known (echo, printf, yes, decoders of fixed text), or what the
 * echo and printf commands of a ( ) or { } group before it write; NULL
 * when it is not known.  *decoder tells whether a decoder was on the way.
 * A command that xargs runs reads /dev/null (GNU xargs): empty text. */
static char *fed_text(const struct judge *j, const struct sh_script *s, int ci, bool *decoder)
{
	const struct sh_cmd *c = &s->cmd[ci], *up[64];
	int n_up = 0;
	if (j->xargs_child)
		return xstrdup("");
	for (size_t i = 0; i < c->n_redir; i++)
		if (c->redir[i].op == SH_R_HEREDOC || c->redir[i].op == SH_R_HERESTR)
			return xstrdup(c->redir[i].target.text);
	if (c->pipe_pos == 0)
		return NULL;
	for (size_t i = 0; i < s->n && n_up < 64; i++)
		if (s->cmd[i].pipeline == c->pipeline && s->cmd[i].pipe_pos < c->pipe_pos && s->cmd[i].argc > 0)
			up[n_up++] = &s->cmd[i];
	if (n_up == 1 && !strcmp(cmd_name(up[0], NULL), "yes"))
		return xstrdup(up[0]->argc > 1 ? up[0]->argv[1].text : "y");
	if (n_up > 0)
		return pipeline_output(up, n_up, decoder);
	for (size_t g = 0; g < s->n_groups; g++) {
		const struct sh_group *gr = &s->groups[g];
		if (gr->pipeline != c->pipeline || gr->pipe_pos != c->pipe_pos - 1)
			continue;
		char *out = str_new();
		size_t len = 0;
		for (size_t i = 0; i < s->n; i++) {
			char *t;
			if (s->cmd[i].group != (int)g || s->cmd[i].depth != c->depth + gr->subshell ||
			    !(t = literal_output(&s->cmd[i])))
				continue;
			append(&out, &len, t);
			append(&out, &len, "\n");
			free(t);
		}
		return out;
	}
	return NULL;
}

/* Judge text that runs somewhere else (a scheduled job, a remote host):
 * its reasons are kept, each prefixed with where it runs. */
static void judge_elsewhere(struct judge *j, const char *text, const char *prefix)
{
	struct verdict there = {0}, *saved = j->v;
	j->v = &there;
	judge_text(j, text, strlen(text));
	j->v = saved;
	verdict_merge(j->v, &there, prefix);
	verdict_free(&there);
}

/* A command reads code from its standard input: where does it come from? */
static void judge_stdin_code(struct judge *j, const struct sh_script *s, int ci, const char *name, bool shell)
{
	const struct sh_cmd *c = &s->cmd[ci];
	if (j->xargs_child)  /* /dev/null, as fed_text() says; the pipe and redirections are xargs's */
		return;
	for (size_t i = 0; i < c->n_redir; i++) {
		const struct sh_redir *r = &c->redir[i];
		if (r->op == SH_R_HEREDOC || r->op == SH_R_HERESTR) {
			if (shell)
				judge_text(j, r->target.text, strlen(r->target.text));
			else
				add(j, M, "code", "%s runs code given in the command", name);
			return;
		}
		if (r->op == SH_R_IN && (r->fd <= 0)) {
			struct path p;
			classify_path(r->target.text, r->target.dynamic, r->target.lead_dynamic, &p);
			if (p.cls == PC_NET)
				add(j, C, "remote-shell", "%s runs code read from a network connection", name);
			for (int d = 0; d < j->n_downloads; d++)
				if (!strcmp(sh_basename(r->target.text), j->downloads[d]))
					add(j, H, "download-run", "%s runs %s, a file just downloaded", name, r->target.text);
			return;
		}
	}
	if (c->pipe_pos == 0)
		return;
	const struct sh_cmd *up[64];
	int n_up = 0;
	for (size_t i = 0; i < s->n && n_up < 64; i++)
		if (s->cmd[i].pipeline == c->pipeline && s->cmd[i].pipe_pos < c->pipe_pos)
			up[n_up++] = &s->cmd[i];
	for (int i = 0; i < n_up; i++) {
		const char *un = cmd_name(up[i], NULL);
		if (in_list(un, fetchers)) {
			add(j, H, "download-run", "%s runs code downloaded by %s without showing it", name, un);
			return;
		}
		if (in_list(un, net_tools)) {
			add(j, C, "remote-shell", "%s runs code received by %s (a remote shell)", name, un);
			return;
		}
	}
	bool decoder = false;
	char *text = pipeline_output(up, n_up, &decoder);
	bool followed = text != NULL;
	if (decoder) {
		add(j, H, "obfuscation", "%s runs commands that are decoded first, hiding what runs", name);
		if (followed && shell) {
			size_t tl = strlen(text);
			while (tl > 0 && (text[tl - 1] == '\n' || text[tl - 1] == ' '))
				tl--;
			add(j, H, "obfuscation", "decoded: %.*s", (int)(tl < 120 ? tl : 120), text);
			judge_text(j, text, strlen(text));
		}
	} else if (followed && shell) {
		judge_text(j, text, strlen(text));
	} else if (followed) {
		add(j, M, "code", "%s runs code given in the command", name);
	} else {
		add(j, M, "pipe-run", "%s runs commands read from a pipe", name);
	}
	free(text);
}

/* The output of the substitution in word w when it is one pipeline from
 * fixed text ($(echo ... | base64 -d)); NULL otherwise. */
static char *substitution_output(const struct sh_script *s, const struct sh_word *w, bool *decoder)
{
	const struct sh_cmd *pipe[64];
	int n_pipe = 0;
	bool one_pipeline = w->sub_begin >= 0 && w->sub_begin < (int)s->n;
	for (int k = w->sub_begin; one_pipeline && k < w->sub_end && k < (int)s->n && n_pipe < 64; k++) {
		if (s->cmd[k].depth != s->cmd[w->sub_begin].depth)
			continue;
		one_pipeline = s->cmd[k].pipeline == s->cmd[w->sub_begin].pipeline;
		pipe[n_pipe++] = &s->cmd[k];
	}
	return one_pipeline ? pipeline_output(pipe, n_pipe, decoder) : NULL;
}

/* text with $0..$9, ${0}..${9}, $@ and $* replaced by the arguments
 * a[0..n) ($0 first) where those are plain words. */
static char *with_positionals(const char *text, const struct sh_word *a, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (strpbrk(a[k].text, "'\"`$\\;&|<>(){}\n") || a[k].dynamic)
			return xstrdup(text);
	char *out = str_new();
	size_t len = 0;
	for (const char *p = text; *p; p++) {
		const char *arg = NULL;
		char all[1024] = "";
		size_t skip = 0;
		if (p[0] == '$' && isdigit((unsigned char)p[1])) {
			size_t i = (size_t)(p[1] - '0');
			arg = i < n ? a[i].text : "";
			skip = 1;
		} else if (p[0] == '$' && p[1] == '{' && isdigit((unsigned char)p[2]) && p[3] == '}') {
			size_t i = (size_t)(p[2] - '0');
			arg = i < n ? a[i].text : "";
			skip = 3;
		} else if (p[0] == '$' && (p[1] == '@' || p[1] == '*')) {
			for (size_t k = 1; k < n; k++) {
				if (k > 1)
					strncat(all, " ", sizeof all - strlen(all) - 1);
				strncat(all, a[k].text, sizeof all - strlen(all) - 1);
			}
			arg = all;
			skip = 1;
		}
		if (len > SH_MAX_INPUT) {  /* "$1$1$1..." with a long $1 */
			free(out);
			return xstrdup(text);
		}
		if (arg) {
			append(&out, &len, arg);
			p += skip;
		} else {
			char one[2] = {*p, 0};
			append(&out, &len, one);
		}
	}
	return out;
}

/* A word that holds code for a shell (sh -c WORD, eval WORDS). */
static void judge_shell_word(struct judge *j, const struct sh_script *s, const char *text, const struct sh_word *w, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (!w[i].dynamic)
			continue;
		bool fetched = false;
		for (int k = w[i].sub_begin; k >= 0 && k < w[i].sub_end && k < (int)s->n; k++)
			if (in_list(cmd_name(&s->cmd[k], NULL), fetchers))
				fetched = true;
		bool decoder = false;
		char *decoded = substitution_output(s, &w[i], &decoder);
		if (fetched) {
			add(j, H, "download-run", "%s runs code downloaded from the network without showing it", name);
		} else if (decoded) {
			if (decoder)
				add(j, H, "obfuscation", "%s runs commands that are decoded first, hiding what runs", name);
			judge_text(j, decoded, strlen(decoded));
		} else {
			add(j, decoder ? H : M, decoder ? "obfuscation" : "dynamic", "%s runs a command built only when it runs", name);
		}
		free(decoded);
	}
	if (strcmp(text, "$(...)") != 0)
		judge_text(j, text, strlen(text));
}

static void judge_code(struct judge *j, const char *code, const char *lang)
{
	static const char *const runners[] = {"system", "popen", "exec", "spawn", "subprocess", "shell_exec",
		"passthru", "child_process", "Runtime", "`", "| \"sh\"", "|\"sh\"", "| \"bash\"", "getline", NULL};
	static const char *const deleters[] = {"rmtree", "remove", "unlink", "rmdir", "rm_rf", "rmSync", "rm(", NULL};
	bool runs = false, deletes = false;
	if (strstr(code, "fork") && (strstr(code, "while") || strstr(code, "for") || strstr(code, "loop") || strstr(code, "until")))
		add(j, C, "fork-bomb", "%s code that forks in a loop (a fork bomb)", lang);
	if (strstr(code, "socket") && (strstr(code, "dup2") || strstr(code, "pty") || strstr(code, "/bin/sh") || strstr(code, "/bin/bash")))
		add(j, C, "remote-shell", "%s code that connects a shell to a network socket", lang);
	if ((strstr(code, "urlopen") || strstr(code, "requests.get") || strstr(code, "urllib") || strstr(code, "http")) &&
	    (strstr(code, "exec(") || strstr(code, "eval(")))
		add(j, H, "download-run", "%s code that downloads and runs code", lang);
	for (const char *const *r = runners; *r; r++)
		runs = runs || strstr(code, *r);
	for (const char *const *r = deleters; *r; r++)
		deletes = deletes || strstr(code, *r);
	if (!runs && !deletes)
		return;
	if (runs)
		add(j, M, "code", "%s code that runs shell commands", lang);
	/* the strings it builds: the commands or paths it hands over */
	size_t n;
	char **str = code_strings(code, &n);
	for (size_t k = 0; k < n; k++) {
		if (runs)
			judge_text(j, str[k], strlen(str[k]));
		if (deletes && (str[k][0] == '/' || str[k][0] == '~')) {
			struct sh_word w = {.text = str[k], .sub_begin = -1, .sub_end = -1};
			judge_delete(j, &w, true, lang, S);
		}
	}
	code_strings_free(str, n);
}

/* ---- the rule table for one simple command ---- */

static bool has_opt(const struct sh_word *w, size_t n, char shortc, const char *longname)
{
	for (size_t i = 1; i < n; i++) {
		const char *t = w[i].text;
		if (!strcmp(t, "--"))
			break;
		if (longname && !strcmp(t, longname))
			return true;
		if (shortc && t[0] == '-' && t[1] != '-' && t[1] && strchr(t + 1, shortc))
			return true;
	}
	return false;
}

static bool has_word(const struct sh_word *w, size_t n, const char *word)
{
	for (size_t i = 1; i < n; i++)
		if (!strcmp(w[i].text, word))
			return true;
	return false;
}

/* The first argument that is not an option, from index from; n if none. */
static size_t first_operand(const struct sh_word *w, size_t n, size_t from)
{
	for (size_t i = from; i < n; i++) {
		if (!strcmp(w[i].text, "--"))
			return i + 1;
		if (w[i].text[0] != '-' || !w[i].text[1])
			return i;
	}
	return n;
}

/* Skip options of a wrapper; with_value lists those taking an argument.
 * Never past n: an option that wants a value may be the last word
 * (sudo -u, nice -n). */
static size_t skip_opts(const struct sh_word *w, size_t n, size_t i, const char *const *with_value)
{
	while (i < n && w[i].text[0] == '-' && w[i].text[1]) {
		if (!strcmp(w[i].text, "--"))
			return i + 1;
		if (with_value && in_list(w[i].text, with_value))
			i++;
		i++;
	}
	return i < n ? i : n;
}

static bool case_contains(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	for (; *hay; hay++)
		if (!strncasecmp(hay, needle, n))
			return true;
	return false;
}

static void judge_argv(struct judge *j, const struct sh_script *s, int ci, const struct sh_word *w, size_t n);

static void judge_packages(struct judge *j, const struct sh_word *w, size_t n, size_t from, const char *tool, bool forced)
{
	static const char *const critical[] = {"libc6", "libc-bin", "glibc", "coreutils", "bash", "dash",
		"systemd", "systemd-sysv", "init", "dpkg", "apt", "rpm", "yum", "dnf", "pacman", "base",
		"base-files", "util-linux", "login", "passwd", "sudo", "grub", "grub2", "grub-pc",
		"grub-common", "linux", "kernel", "kernel-core", "*", NULL};
	static const char *const important[] = {"python3", "python", "perl", "openssh-server", "openssh",
		"network-manager", "networkmanager", "netplan.io", "ifupdown", "xorg", "gnome-shell",
		"ubuntu-desktop", "polkit", "dbus", "udev", "e2fsprogs", "mount", "tar", "gzip", NULL};
	enum risk_level l = M;
	const char *which = "";
	if (forced)
		l = C;
	for (size_t i = from; i < n; i++) {
		const char *p = w[i].text;
		if (p[0] == '-')
			continue;
		if (in_list(p, critical) || starts(p, "linux-image") || starts(p, "libc6") || starts(p, "grub")) {
			l = C;
			which = p;
		} else if ((in_list(p, important) || starts(p, "python3")) && l < H) {
			l = H;
			which = p;
		}
	}
	if (l == C && forced)
		add(j, C, "packages", "%s removes packages with the essential-package checks turned off", tool);
	else if (l >= H)
		add(j, l, "packages", "%s removes %s, which the system needs", tool, which);
	else
		add(j, l, "packages", "%s removes installed packages", tool);
}

/* Judge what a filtered find does one level lower: it touches only the
 * matching files under its start, not all of them. */
static void begin_filtered(struct judge *j, bool filtered, struct verdict *tmp, struct verdict **saved)
{
	*saved = j->v;
	if (filtered) {
		memset(tmp, 0, sizeof *tmp);
		j->v = tmp;
	}
}

static void end_filtered(struct judge *j, bool filtered, struct verdict *tmp, struct verdict *saved)
{
	j->v = saved;
	if (!filtered)
		return;
	for (size_t i = 0; i < tmp->n; i++) {
		enum risk_level l = reason_level(tmp->reason[i]);
		const char *rest = tmp->reason[i] + strlen(level_names[l]) + 2;
		char text[512];
		if (l == RISK_SAFE || --l == RISK_SAFE)
			continue;
		snprintf(text, sizeof text, "%s: %s (matching files only)", level_names[l], rest);
		verdict_add(j->v, l, text);
	}
	verdict_free(tmp);
}

static void judge_find(struct judge *j, const struct sh_script *s, int ci, const struct sh_word *w, size_t n)
{
	static const char *const filters[] = {"-name", "-iname", "-path", "-ipath", "-regex", "-iregex",
		"-newer", "-mtime", "-mmin", "-atime", "-size", "-user", "-empty", "-wholename", NULL};
	size_t i = 1;
	const struct sh_word *start[16];
	static const struct sh_word dot = {.text = ".", .sub_begin = -1, .sub_end = -1};
	int n_start = 0;
	bool filtered = false;
	struct verdict tmp, *saved;
	while (i < n && w[i].text[0] != '-' && strcmp(w[i].text, "(") && strcmp(w[i].text, "!")) {
		if (n_start < 16)
			start[n_start++] = &w[i];
		i++;
	}
	if (n_start == 0)
		start[n_start++] = &dot;
	for (size_t k = i; k < n; k++)
		if (in_list(w[k].text, filters))
			filtered = true;
	/* matching files below the working directory are the usual clean-up */
	static const struct sh_word below = {.text = "./x", .sub_begin = -1, .sub_end = -1};
	for (int k = 0; k < n_start && filtered; k++) {
		struct path p;
		classify_path(start[k]->text, start[k]->dynamic, start[k]->lead_dynamic, &p);
		if (p.cls == PC_CWD_ALL)
			start[k] = &below;
	}
	for (; i < n; i++) {
		const char *t = w[i].text;
		if (!strcmp(t, "-delete")) {
			begin_filtered(j, filtered, &tmp, &saved);
			for (int k = 0; k < n_start; k++)
				judge_delete(j, start[k], true, "find -delete", S);
			end_filtered(j, filtered, &tmp, saved);
		} else if (!strcmp(t, "-exec") || !strcmp(t, "-execdir") || !strcmp(t, "-ok") || !strcmp(t, "-okdir")) {
			size_t e = i + 1;
			while (e < n && strcmp(w[e].text, ";") && strcmp(w[e].text, "+"))
				e++;
			begin_filtered(j, filtered, &tmp, &saved);
			for (int k = 0; k < n_start; k++) {
				struct sh_word sub[64];
				char texts[64][600];
				size_t m = 0;
				for (size_t a = i + 1; a < e && m < 64; a++, m++) {
					sub[m] = w[a];
					if (strstr(w[a].text, "{}")) {
						/* {} stands for each file found: the start or below it */
						const char *br = strstr(w[a].text, "{}");
						snprintf(texts[m], sizeof texts[m], "%.*s%s%s", (int)(br - w[a].text), w[a].text,
							 start[k]->text, br + 2);
						sub[m].text = texts[m];
						sub[m].dynamic = start[k]->dynamic;
						sub[m].lead_dynamic = start[k]->lead_dynamic && br == w[a].text;
					}
				}
				if (m > 0)
					judge_argv(j, s, ci, sub, m);
			}
			end_filtered(j, filtered, &tmp, saved);
			i = e;
		}
	}
}

static void judge_chmod(struct judge *j, const struct sh_word *w, size_t n, const char *name)
{
	bool recursive = has_opt(w, n, 'R', "--recursive");
	bool is_chmod = !strcmp(name, "chmod");
	size_t i = first_operand(w, n, 1);
	const char *mode = "";
	if (i < n && (is_chmod || !strcmp(name, "chown") || !strcmp(name, "chgrp") || !strcmp(name, "chattr"))) {
		mode = w[i].text;
		i++;
	}
	/* chmod's mode may look like an option: chmod -x file */
	bool setuid = is_chmod && (strchr(mode, 's') || (strlen(mode) == 4 && strchr("4267", mode[0]) && mode[0] != '0'));
	bool world = is_chmod && (strstr(mode, "777") || strstr(mode, "666") || strstr(mode, "o+w") ||
				  strstr(mode, "a+w") || !strcmp(mode, "+w") || strstr(mode, "o=rwx") || strstr(mode, "a=rwx") ||
				  (strlen(mode) >= 3 && isdigit((unsigned char)mode[0]) && strchr("2367", mode[strlen(mode) - 1])));
	for (; i < n; i++) {
		if (w[i].text[0] == '-' && !recursive)
			continue;
		struct path p;
		classify_path(w[i].text, w[i].dynamic, w[i].lead_dynamic, &p);
		enum risk_level l = S;
		switch (p.cls) {
		case PC_ROOT: case PC_SYSDIR: case PC_HOME: case PC_VITAL: case PC_DEVICE:
			l = recursive || p.cls == PC_VITAL || p.cls == PC_DEVICE ? C : H;
			break;
		case PC_SYS_UNDER:
			l = recursive || world || core_system(&p) ? H : M;
			break;
		case PC_KERNEL: case PC_DYN_ROOT:
			l = H;
			break;
		case PC_HOME_DOT:
			l = world ? H : S;
			break;
		case PC_CWD_ALL: case PC_REL: case PC_HOME_UNDER: case PC_ABS: case PC_TMP: case PC_DYN:
			l = world ? M : S;
			break;
		default:
			break;
		}
		if (setuid && l < H)
			l = H;
		if (l == S)
			continue;
		add(j, l, "permissions", "%s%s %s on %s (%s)%s", name, recursive ? " -R" : "", mode, p.norm, describe(&p),
		    setuid ? ": sets set-user-id, running as the owner" : world ? ": lets every user change it" : "");
	}
}

/* The paths an argument may name: itself, what follows '=' (--file=x,
 * -d @x) and what follows '@' (curl's @file, user@host:path); NULL where
 * there is no such part. */
static void path_candidates(const char *t, const char *cands[3])
{
	const char *eq = strchr(t, '='), *at = strchr(t, '@');
	cands[0] = t;
	cands[1] = eq ? eq + 1 : NULL;
	cands[2] = at ? at + 1 : NULL;
}

static void judge_net_sender_args(struct judge *j, const struct sh_word *w, size_t n, const char *name)
{
	/* credentials named as arguments of a network tool leave the machine */
	for (size_t i = 1; i < n; i++) {
		const char *cands[3];
		path_candidates(w[i].text, cands);
		for (int k = 0; k < 3; k++) {
			if (!cands[k])
				continue;
			struct path p;
			classify_path(cands[k], w[i].dynamic, false, &p);
			if (credential_kind(&p) || is_history_file(&p)) {
				add(j, C, "credentials", "%s sends %s over the network", name, p.norm);
				break;
			}
		}
	}
}

/* Does a network tool receive the output of command ci (pipe downstream,
 * or a command whose word holds ci's substitution)? */
static const char *sent_by(const struct sh_script *s, int ci)
{
	const struct sh_cmd *c = &s->cmd[ci];
	for (size_t i = 0; i < s->n; i++)
		if (s->cmd[i].pipeline == c->pipeline && s->cmd[i].pipe_pos > c->pipe_pos) {
			const char *n = cmd_name(&s->cmd[i], NULL);
			if (in_list(n, senders))
				return n;
		}
	for (int p = c->parent, guard = 0; p >= 0 && p < (int)s->n && guard < 64; p = s->cmd[p].parent, guard++) {
		const char *n = cmd_name(&s->cmd[p], NULL);
		if (in_list(n, senders))
			return n;
	}
	return NULL;
}

static void judge_reads(struct judge *j, const struct sh_script *s, int ci, const struct sh_word *w, size_t n, const char *name)
{
	static const char *const harmless[] = {"ls", "stat", "file", "chmod", "chown", "chgrp", "mkdir",
		"touch", "test", "[", "[[", "ssh-keygen", "ssh-add", "ssh", "cd", "du", "realpath", "readlink",
		"basename", "dirname", "echo", "printf", "rm", "shred", "unlink", "srm", "wipe", "truncate",
		"ssh-copy-id", "mv", "ln", "install", "vim", "vi", "nano", "emacs", "code", "find", "tee", NULL};
	const struct sh_cmd *c = &s->cmd[ci];
	int kind = 0;
	bool history = false;
	const char *what = NULL;
	struct path p;
	if (in_list(name, harmless))
		return;
	for (size_t i = 1; i <= n + c->n_redir; i++) {
		const struct sh_word *word;
		if (i < n) {
			word = &w[i];
		} else if (i > n && c->redir[i - n - 1].op == SH_R_IN) {
			word = &c->redir[i - n - 1].target;
		} else {
			continue;
		}
		const char *cands[3];
		path_candidates(word->text, cands);
		for (int k = 0; k < 3; k++) {
			if (!cands[k])
				continue;
			classify_path(cands[k], word->dynamic, false, &p);
			int ck = credential_kind(&p);
			if (ck > kind) {
				kind = ck;
				what = word->text;
			}
			if (is_history_file(&p)) {
				history = true;
				if (!what)
					what = word->text;
			}
		}
	}
	bool env_dump = in_list(name, (const char *const[]){"env", "printenv", "history", "set", "declare", "export", "compgen", NULL});
	if (!kind && !history && !(env_dump && n <= 2))
		return;
	const char *to = sent_by(s, ci);
	if (to) {
		add(j, C, "credentials", "%s output goes to %s: %s leaves the machine", name, to,
		    kind ? "a secret" : history ? "the shell history" : "the environment (tokens, keys)");
		return;
	}
	if (kind == 2)
		add(j, H, "credentials", "%s reads the password hashes (%s)", name, what);
	else if (kind == 1)
		add(j, M, "credentials", "%s reads secrets (%s)", name, what);
	else if (history)
		add(j, M, "history", "%s reads the shell history (%s)", name, what);
}

/* ---- the rule table ----
 *
 * A simple command is judged in three steps (judge_argv):
 *   1. wrappers[]: a wrapper (sudo, env, nohup, xargs ...) is peeled off,
 *      with its own reasons, and what it runs is judged in its place;
 *   2. checks that hold for every command (a function calling itself, a
 *      downloaded or just-written file run, secrets read or sent);
 *   3. rules[]: the rows whose names include the command run in table
 *      order; a rule returns true when it has judged the command, false to
 *      let later rows look at it too (the options that hold a command,
 *      first, then the command's own rule).
 * To add a rule: write a function rule_FAMILY(struct call *c) that calls
 * add() with a level, a category and a reason a person can read, and add
 * one row {names, rule} (or {NULL, rule, match} for a family known by a
 * pattern) where it belongs; to add a command to a family, add its name
 * to the row. */

/* One simple command as a rule sees it: the words after the wrappers. */
struct call {
	struct judge *j;
	const struct sh_script *s;
	int ci;                    /* the command's index in s */
	const struct sh_cmd *cmd;  /* s->cmd[ci]: redirections, pipeline */
	const struct sh_word *w;   /* (n) w[0] is the command word */
	size_t n;
	const char *name;          /* basename of w[0] */
	char shown[200];           /* the words, printable, for reasons */
};

#define NAMES(...) ((const char *const[]){__VA_ARGS__, NULL})

struct rule {
	const char *const *names;          /* the command names of the family */
	bool (*judge)(struct call *c);
	bool (*match)(const char *name);   /* instead of names: a family known by a pattern */
};

static bool row_matches(const struct rule *r, const char *name)
{
	return r->match ? r->match(name) : in_list(name, r->names);
}

/* ---- wrappers: each returns how many words to drop to reach the command
 * it runs, or 0 (or n and more) when nothing is left to judge ---- */

static const char *const sudo_val[] = {"-u", "-g", "-h", "-p", "-C", "-D", "-r", "-t", "-U", "-T", "-R", "--user",
	"--group", NULL};

static size_t peel_sudo(struct call *c)
{
	size_t i = skip_opts(c->w, c->n, 1, sudo_val);
	if (has_opt(c->w, i, 'e', "--edit")) {
		for (size_t k = i; k < c->n; k++)
			judge_write(c->j, &c->w[k], "sudoedit");
		return 0;
	}
	if (i >= c->n) {
		/* sudo -l, -v, -k only list or refresh credentials */
		if (has_opt(c->w, i, 's', "--shell") || has_opt(c->w, i, 'i', "--login"))
			add(c->j, M, "privilege", "%s opens a root shell", c->name);
		return 0;
	}
	if (!strcmp(c->w[i].text, "true") || !strcmp(c->w[i].text, ":"))
		return 0;
	show(c->w + i, c->n - i, c->shown, sizeof c->shown);
	add(c->j, M, "privilege", "runs as root: %s", c->shown);
	return i;
}

static size_t peel_su(struct call *c)
{
	for (size_t k = 1; k + 1 < c->n; k++)
		if (!strcmp(c->w[k].text, "-c") || !strcmp(c->w[k].text, "--command")) {
			add(c->j, M, "privilege", "su runs a command as another user (root by default)");
			judge_shell_word(c->j, c->s, c->w[k + 1].text, &c->w[k + 1], 1, "su -c");
			return 0;
		}
	add(c->j, M, "privilege", "su opens a shell as another user (root by default)");
	return 0;
}

static size_t peel_env(struct call *c)
{
	size_t i;
	for (i = 1; i < c->n; i++) {
		const char *t = c->w[i].text;
		if (!strcmp(t, "-S") || !strcmp(t, "--split-string")) {
			if (i + 1 < c->n)
				judge_shell_word(c->j, c->s, c->w[i + 1].text, &c->w[i + 1], 1, "env -S");
			return 0;
		}
		if (!strcmp(t, "-u") || !strcmp(t, "-C") || !strcmp(t, "--unset") || !strcmp(t, "--chdir"))
			i++;
		else if (t[0] != '-' && !strchr(t, '='))
			break;
		else if (strchr(t, '=') && (starts(t, "HISTFILE=") || starts(t, "HISTSIZE=0")))
			add(c->j, H, "history", "env %s stops the shell history", t);
		else if (starts(t, "LD_PRELOAD="))
			add(c->j, M, "code", "env %s loads a library into the program", t);
	}
	if (i >= c->n)  /* env alone lists the environment */
		judge_reads(c->j, c->s, c->ci, c->w, c->n, "env");
	return i;
}

/* Programs that run the command after their options (and, for some, one
 * argument of their own). */
static size_t peel_runner(struct call *c)
{
	static const char *const val[] = {"-n", "--adjustment", "-c", "-p", "-t", "-s", "-k", "--signal",
		"--kill-after", "-i", "-o", "-e", "-w", "-E", "--userspec", "--groups", "-I", "-L", "-P", "-d", "-a",
		"-E", "-S", NULL};
	const char *name = c->name;
	const struct sh_word *w = c->w;
	size_t n = c->n, i;
	if (!strcmp(name, "command") && (has_opt(w, n, 'v', NULL) || has_opt(w, n, 'V', NULL)))
		return 0;
	i = skip_opts(w, n, 1, val);
	if (!strcmp(name, "flock") && has_opt(w, n, 'c', "--command")) {
		for (size_t k = 1; k + 1 < n; k++)
			if (!strcmp(w[k].text, "-c") || !strcmp(w[k].text, "--command"))
				judge_shell_word(c->j, c->s, w[k + 1].text, &w[k + 1], 1, "flock -c");
		return 0;
	}
	/* positional arguments before the command */
	if (in_list(name, NAMES("timeout", "flock", "chroot", "taskset", "sg")) && i < n)
		i++;
	if (!strcmp(name, "chrt") && i < n && isdigit((unsigned char)w[i].text[0]))
		i++;
	if (!strcmp(name, "chroot"))
		add(c->j, M, "privilege", "chroot runs a command in another root directory");
	return i;
}

static size_t peel_xargs(struct call *c)
{
	static const char *const val[] = {"-I", "-i", "-n", "-P", "-L", "-l", "-d", "-E", "-e", "-s", "-a",
		"--max-args", "--max-procs", "--delimiter", "--arg-file", NULL};
	static struct sh_word echo = {.text = "echo", .sub_begin = -1, .sub_end = -1};
	const struct sh_word *w = c->w;
	size_t n = c->n, i = skip_opts(w, n, 1, val);
	if (i >= n) {  /* no command: xargs runs echo */
		w = &echo;
		n = 1;
		i = 0;
	}
	/* the arguments come from standard input: fixed words when an echo
	 * feeds it directly, otherwise unknown here.  The command judged runs
	 * with xargs_child set, so an xargs that it runs reads nothing (see
	 * fed_text()): `printf xargs | xargs` once fed "xargs" to itself for
	 * ever. */
	const bool child = c->j->xargs_child;
	struct sh_word sub[80];
	size_t m = 0;
	for (size_t k = i; k < n && m < 64; k++)
		sub[m++] = w[k];
	bool decoder = false;
	char *input = fed_text(c->j, c->s, c->ci, &decoder);
	for (char *tok = input ? strtok(input, " \t\n") : NULL; tok && m < 79; tok = strtok(NULL, " \t\n"))
		sub[m++] = (struct sh_word){.text = tok, .sub_begin = -1, .sub_end = -1};
	if (!input) {  /* the output of the stages before xargs, as a substitution's: a fetcher there is seen */
		int first = c->ci;
		for (int q = 0; q < c->ci; q++)
			if (c->s->cmd[q].pipeline == c->cmd->pipeline && c->s->cmd[q].pipe_pos < c->cmd->pipe_pos) {
				first = q;
				break;
			}
		sub[m++] = (struct sh_word){.text = "$INPUT", .dynamic = true, .lead_dynamic = true,
					    .sub_begin = first < c->ci ? first : -1, .sub_end = c->ci};
	}
	c->j->xargs_child = true;
	judge_argv(c->j, c->s, c->ci, sub, m);
	c->j->xargs_child = child;
	free(input);
	return 0;
}

static size_t peel_watch(struct call *c)
{
	size_t i = skip_opts(c->w, c->n, 1, NAMES("-n", "--interval", "-d"));
	if (i < c->n) {
		char text[2048] = "";
		for (size_t k = i; k < c->n; k++) {
			if (k > i)
				strncat(text, " ", sizeof text - strlen(text) - 1);
			strncat(text, c->w[k].text, sizeof text - strlen(text) - 1);
		}
		judge_shell_word(c->j, c->s, text, c->w + i, c->n - i, "watch");
	}
	return 0;
}

static const struct {
	const char *const *names;
	size_t (*peel)(struct call *c);
} wrappers[] = {
	{NAMES("sudo", "doas", "pkexec", "run0"), peel_sudo},
	{NAMES("su"), peel_su},
	{NAMES("env"), peel_env},
	{NAMES("nohup", "setsid", "time", "caffeinate", "unbuffer", "builtin", "exec", "nice", "ionice", "chrt",
	       "stdbuf", "timeout", "taskset", "flock", "chroot", "firejail", "proxychains", "proxychains4",
	       "torsocks", "strace", "ltrace", "command", "busybox", "systemd-run", "runuser", "sg", "catchsegv",
	       "then"), peel_runner},
	{NAMES("xargs"), peel_xargs},
	{NAMES("watch"), peel_watch},
};

/* The command word is a file name pattern (/???/r?): judge the command as
 * each dangerous command it may name. */
static void judge_glob_name(struct call *c)
{
	static const char *const names[] = {"rm", "dd", "shred", "mkfs", "wipefs", "chmod", "chown", "curl", "wget",
		"nc", "ncat", "sh", "bash", "python3", "perl", "cat", "mv", "cp", "reboot", "shutdown", "halt",
		"poweroff", "kill", "insmod", "rmmod", "crontab", NULL};
	bool named = false;
	for (const char *const *name = names; *name; name++)
		if (fnmatch(sh_basename(c->w[0].text), *name, 0) == 0) {
			struct sh_word sub[64];
			size_t m = c->n < 64 ? c->n : 64;
			memcpy(sub, c->w, m * sizeof *sub);
			sub[0].text = (char *)*name;
			judge_argv(c->j, c->s, c->ci, sub, m);
			named = true;
		}
	show(c->w, c->n, c->shown, sizeof c->shown);
	add(c->j, M, "dynamic", "the command name is a file name pattern%s: %s",
	    named ? " matching dangerous commands" : "", c->shown);
}

/* The command word is known only when it runs ($CMD, $(...)). */
static void judge_dynamic_name(struct call *c)
{
	const struct sh_word *w = c->w;
	size_t n = c->n;
	bool decoder = false;
	char *decoded = substitution_output(c->s, &w[0], &decoder);
	show(w, n, c->shown, sizeof c->shown);
	if (decoded && !strcmp(w[0].text, "$(...)")) {
		/* the decoded name and the words after it */
		size_t len = strlen(decoded) + 1;
		for (size_t k = 1; k < n; k++)
			len += 4 * strlen(w[k].text) + 3;
		char *line = xmalloc(len + 1), *q = line + strlen(decoded);
		strcpy(line, decoded);
		for (size_t k = 1; k < n; k++) {
			*q++ = ' ';
			*q++ = '\'';
			for (const char *ch = w[k].text; *ch; ch++)
				if (*ch == '\'') {
					memcpy(q, "'\\''", 4);
					q += 4;
				} else {
					*q++ = *ch;
				}
			*q++ = '\'';
		}
		*q = '\0';
		if (decoder)
			add(c->j, H, "obfuscation", "the command is decoded when it runs, hiding what runs");
		judge_text(c->j, line, strlen(line));
		free(line);
	} else {
		add(c->j, decoder ? H : M, decoder ? "obfuscation" : "dynamic",
		    "the command name is known only when it runs: %s", c->shown);
		/* $SHELL -c '...': whatever the name, the string may be a script */
		for (size_t k = 1; k + 1 < n; k++)
			if (!strcmp(w[k].text, "-c"))
				judge_text(c->j, w[k + 1].text, strlen(w[k + 1].text));
	}
	free(decoded);
}

/* A file this command line wrote or downloaded: its content is judged, or
 * its download is, where it runs. */
static bool known_file(const struct judge *j, const char *path)
{
	const char *base = sh_basename(path);
	for (int d = 0; d < j->n_written; d++)
		if (!strcmp(base, j->written[d]))
			return true;
	for (int d = 0; d < j->n_downloads; d++)
		if (!strcmp(base, j->downloads[d]))
			return true;
	return false;
}

/* A script or program from a file of the user's: the judge cannot see
 * what it does (cmd-extract(1): moderate, rather than a guess). */
static void judge_unseen_file(struct call *c, const struct sh_word *file)
{
	struct path p;
	if (file->dynamic || known_file(c->j, file->text))
		return;
	classify_path(file->text, false, false, &p);
	if (p.cls != PC_REL && p.cls != PC_CWD_ALL && p.cls != PC_HOME_UNDER && p.cls != PC_HOME_DOT &&
	    p.cls != PC_TMP && p.cls != PC_ABS)
		return;
	if (file == c->w)
		add(c->j, M, "script", "%s runs a program from a file the judge cannot read", c->shown);
	else
		add(c->j, M, "script", "%s runs %s, a file whose commands the judge cannot read", c->shown, file->text);
}

/* What every command is checked for, whatever its name. */
static void judge_any(struct call *c)
{
	struct judge *j = c->j;
	const struct sh_word *w = c->w;
	size_t n = c->n;
	const char *name = c->name;

	/* a function that runs itself in a pipe or in the background */
	if (c->cmd->func && !strcmp(w[0].text, c->cmd->func) && (c->cmd->pipe_len > 1 || c->cmd->background))
		add(j, C, "fork-bomb", "function %s starts copies of itself without end (a fork bomb)", c->cmd->func);

	/* running a file that a fetcher of this script downloads */
	for (int d = 0; d < j->n_downloads; d++) {
		bool runs = !strcmp(name, j->downloads[d]) && strchr(w[0].text, '/');
		if ((is_shell(name) || is_interp(name) || !strcmp(name, "source") || !strcmp(name, ".")) && n > 1) {
			size_t k = first_operand(w, n, 1);
			runs = runs || (k < n && !strcmp(sh_basename(w[k].text), j->downloads[d]));
		}
		if (runs)
			add(j, H, "download-run", "%s runs %s, a file just downloaded, unseen", c->shown, j->downloads[d]);
	}

	/* running a script this command line wrote: judge what it holds */
	for (int d = 0; d < j->n_written; d++) {
		bool runs = !strcmp(name, j->written[d]) && strchr(w[0].text, '/');
		if ((is_shell(name) || !strcmp(name, "source") || !strcmp(name, ".")) && n > 1) {
			size_t k = first_operand(w, n, 1);
			runs = runs || (k < n && !strcmp(sh_basename(w[k].text), j->written[d]));
		}
		if (runs && j->decoded[d])
			add(j, H, "obfuscation", "%s runs %s, written from decoded text that hides what it does", c->shown,
			    j->written[d]);
		if (runs)
			judge_text(j, j->content[d], strlen(j->content[d]));
	}

	judge_reads(j, c->s, c->ci, w, n, name);
	if (in_list(name, senders))
		judge_net_sender_args(j, w, n, name);

	/* ./install.sh, ~/bin/tool: a program of the user's */
	if (strchr(w[0].text, '/'))
		judge_unseen_file(c, &w[0]);
}

/* A network tool in the same pipeline as command ci. */
static bool piped_to_net_tool(const struct call *c)
{
	for (size_t q = 0; q < c->s->n; q++)
		if (c->s->cmd[q].pipeline == c->cmd->pipeline && (int)q != c->ci &&
		    in_list(cmd_name(&c->s->cmd[q], NULL), net_tools))
			return c->cmd->pipe_len > 1;
	return false;
}

/* A word made by a substitution that runs a fetcher: $(curl ...). */
static bool fetched_word(const struct sh_script *s, const struct sh_word *w)
{
	for (int q = w->sub_begin; q >= 0 && q < w->sub_end && q < (int)s->n; q++)
		if (in_list(cmd_name(&s->cmd[q], NULL), fetchers))
			return true;
	return false;
}

/* ---- the rules ---- */

static bool is_shell_or_eval(const char *name)
{
	return is_shell(name) || !strcmp(name, "eval") || !strcmp(name, "source") || !strcmp(name, ".");
}

static bool rule_shell(struct call *c)
{
	struct judge *j = c->j;
	const struct sh_word *w = c->w;
	size_t n = c->n;
	const char *name = c->name;
	if (!strcmp(name, "eval")) {
		char text[4096] = "";
		for (size_t k = 1; k < n; k++) {
			if (k > 1)
				strncat(text, " ", sizeof text - strlen(text) - 1);
			strncat(text, w[k].text, sizeof text - strlen(text) - 1);
		}
		judge_shell_word(j, c->s, text, w + 1, n - 1, "eval");
		return true;
	}
	bool interactive = false, script = false;
	for (size_t k = 1; k < n; k++) {
		const char *t = w[k].text;
		if (t[0] == '-' && t[1] != '-' && strchr(t, 'c') && is_shell(name)) {
			if (k + 1 < n) {
				/* sh -c 'rm -rf "$1"' name ARGS: the arguments fill $0 $1 ... */
				char *text = with_positionals(w[k + 1].text, w + k + 2, n - k - 2);
				judge_shell_word(j, c->s, text, &w[k + 1], 1, name);
				free(text);
			}
			return true;
		}
		if (t[0] == '-' && t[1] != '-' && strchr(t, 'i'))
			interactive = true;
		if (!strcmp(t, "-") || !strcmp(t, "-s"))
			break;
		if (t[0] != '-' || !strcmp(t, "--")) {
			const struct sh_word *sw = !strcmp(t, "--") && k + 1 < n ? &w[k + 1] : &w[k];
			if (!strcmp(t, "--") && k + 1 >= n)
				break;
			script = true;
			if (fetched_word(c->s, sw))
				add(j, H, "download-run", "%s runs a script streamed from the network, unseen", name);
			else
				judge_unseen_file(c, sw);
			break;
		}
	}
	for (size_t r = 0; r < c->cmd->n_redir; r++) {
		struct path p;
		classify_path(c->cmd->redir[r].target.text, false, false, &p);
		if (p.cls == PC_NET)
			interactive = true;
	}
	if (piped_to_net_tool(c))
		add(j, C, "remote-shell", "%s is wired to a network connection (a remote shell)", name);
	else if (!script && !interactive)
		judge_stdin_code(j, c->s, c->ci, name, true);
	return true;
}

static bool rule_interpreter(struct call *c)
{
	struct judge *j = c->j;
	const struct sh_word *w = c->w;
	size_t n = c->n;
	const char *name = c->name;
	bool code = false;
	for (size_t k = 1; k < n; k++) {
		const char *t = w[k].text;
		if (in_list(t, NAMES("-c", "-e", "-E", "-r", "--eval", "-p", "-pe", "-ne", "-le", "-pie", "-lne")) &&
		    k + 1 < n) {
			judge_code(j, w[k + 1].text, name);
			code = true;
			break;
		}
		if (!strcmp(t, "-m") && k + 1 < n) {
			if (strstr(w[k + 1].text, "http.server") || strstr(w[k + 1].text, "SimpleHTTPServer") ||
			    strstr(w[k + 1].text, "pyftpdlib"))
				add(j, M, "network", "%s serves the current directory to the network", c->shown);
			code = true;
			break;
		}
		if (t[0] != '-') {
			code = true;
			if (fetched_word(c->s, &w[k]))
				add(j, H, "download-run", "%s runs a script streamed from the network, unseen", name);
			else
				judge_unseen_file(c, &w[k]);
			break;
		}
	}
	if (piped_to_net_tool(c))
		add(j, C, "remote-shell", "%s is wired to a network connection (a remote shell)", name);
	else if (!code)
		judge_stdin_code(j, c->s, c->ci, name, false);
	return true;
}

/* Options whose value is a shell command; other rows judge the rest. */
static bool rule_exec_options(struct call *c)
{
	static const struct {
		const char *cmd, *prefix;
	} exec_opts[] = {
		{"tar", "--checkpoint-action=exec="}, {"tar", "--to-command="}, {"tar", "--use-compress-program="},
		{"tar", "--info-script="}, {"tar", "--new-volume-script="}, {"tar", "-I"}, {"zip", "-TT"},
		{"zip", "--unzip-command="}, {"rsync", "-e"}, {"rsync", "--rsh="}, {"rsync", "--rsync-path="},
		{"ssh", "ProxyCommand="}, {"ssh", "LocalCommand="}, {"ssh", "-oProxyCommand="}, {"scp", "ProxyCommand="},
		{"scp", "-oProxyCommand="}, {"sftp", "ProxyCommand="}, {"git", "core.pager="}, {"git", "core.sshCommand="},
		{"git", "core.editor="}, {"git", "core.fsmonitor="}, {"git", "sequence.editor="}, {"git", "diff.external="},
		{"man", "-P"}, {"man", "--pager="}, {"script", "-c"}, {"expect", "-c"}, {"vim", "-c"}, {"vi", "-c"},
		{"nvim", "-c"}, {"ex", "-c"}, {"view", "-c"}, {"vim", "+"}, {"vi", "+"}, {"nvim", "+"}, {NULL, NULL},
	};
	const struct sh_word *w = c->w;
	size_t n = c->n;
	const char *name = c->name;
	bool editor = in_list(name, NAMES("vim", "vi", "nvim", "ex", "view"));
	for (size_t k = 1; k < n; k++) {
		for (int o = 0; exec_opts[o].cmd; o++) {
			size_t pl = strlen(exec_opts[o].prefix);
			if (strcmp(name, exec_opts[o].cmd) || strncmp(w[k].text, exec_opts[o].prefix, pl))
				continue;
			const char *value = w[k].text[pl] ? w[k].text + pl : k + 1 < n ? w[k + 1].text : "";
			if (editor) {  /* :!cmd runs a shell command */
				while (*value == ':' || *value == ' ')
					value++;
				if (*value != '!')
					continue;
				value++;
			}
			judge_text(c->j, value, strlen(value));
		}
		if (!strcmp(name, "git") && starts(w[k].text, "alias.") && strstr(w[k].text, "=!"))
			judge_text(c->j, strstr(w[k].text, "=!") + 2, strlen(strstr(w[k].text, "=!") + 2));
	}
	return false;
}

static bool rule_awk(struct call *c)
{
	size_t k = 1;
	while (k < c->n && c->w[k].text[0] == '-') {
		if (!strcmp(c->w[k].text, "-F") || !strcmp(c->w[k].text, "-v") || !strcmp(c->w[k].text, "-f"))
			k++;
		k++;
	}
	if (k < c->n)
		judge_code(c->j, c->w[k].text, c->name);
	return true;
}

static bool rule_delete(struct call *c)
{
	struct judge *j = c->j;
	const struct sh_word *w = c->w;
	size_t n = c->n;
	const char *name = c->name;
	bool recursive = has_opt(w, n, 'r', "--recursive") || has_opt(w, n, 'R', NULL) || !strcmp(name, "srm");
	enum risk_level floor = in_list(name, NAMES("shred", "wipe", "srm")) ? M : S;
	if (has_word(w, n, "--no-preserve-root"))
		add(j, C, "delete", "%s --no-preserve-root: turns off the guard against deleting /", name);
	if (!strcmp(name, "rmdir"))
		return true;  /* removes only empty directories */
	bool after_dd = false;
	for (size_t k = 1; k < n; k++) {
		const char *t = w[k].text;
		if (!after_dd && !strcmp(t, "--")) {
			after_dd = true;
			continue;
		}
		if (!after_dd && t[0] == '-' && t[1])
			continue;
		if (!strcmp(name, "truncate") && k > 0 && (!strcmp(w[k - 1].text, "-s") || !strcmp(w[k - 1].text, "--size")))
			continue;
		struct path p;
		classify_path(t, w[k].dynamic, w[k].lead_dynamic, &p);
		if (p.cls == PC_DEVICE && floor == M) {
			add(j, C, "disk", "%s overwrites the disk %s", name, p.norm);
			continue;
		}
		judge_delete(j, &w[k], recursive, name, floor);
	}
	return true;
}

static bool rule_find(struct call *c)
{
	judge_find(c->j, c->s, c->ci, c->w, c->n);
	return true;
}

static bool rule_mv(struct call *c)
{
	const struct sh_word *w = c->w;
	size_t n = c->n, first = first_operand(w, n, 1), last = n - 1;
	if (first >= n || last <= first)
		return true;
	struct path dst;
	classify_path(w[last].text, w[last].dynamic, w[last].lead_dynamic, &dst);
	bool to_null = dst.cls == PC_DEVSAFE;
	for (size_t k = first; k < last; k++) {
		if (w[k].text[0] == '-')
			continue;
		struct path p;
		classify_path(w[k].text, w[k].dynamic, w[k].lead_dynamic, &p);
		enum risk_level l = delete_level(&p, true);
		if (!to_null && (p.cls == PC_HOME_UNDER || p.cls == PC_ABS || p.cls == PC_CWD_ALL || p.cls == PC_DYN))
			l = S;
		if (!to_null && p.cls == PC_HOME_DOT)
			l = M;
		add(c->j, l, "delete", "mv %s: %s moves away %s", to_null ? "to /dev/null" : "", p.norm, describe(&p));
	}
	if (!to_null)
		judge_write(c->j, &w[last], "mv");
	return true;
}

static bool rule_copy(struct call *c)
{
	const struct sh_word *w = c->w;
	size_t n = c->n, first = first_operand(w, n, 1), last = n - 1;
	if (first >= n || last <= first)
		return true;
	if (!strcmp(c->name, "rsync") && (has_word(w, n, "--delete") || has_word(w, n, "--delete-before") ||
					  has_word(w, n, "--delete-after") || has_word(w, n, "--delete-during"))) {
		judge_delete(c->j, &w[last], true, "rsync --delete", S);
		return true;
	}
	/* cp /dev/null FILE empties FILE: judged as deleting it */
	for (size_t k = first; k < last; k++)
		if (!strcmp(w[k].text, "/dev/null") || !strcmp(w[k].text, "/dev/zero")) {
			char what[64];
			snprintf(what, sizeof what, "%s %s", c->name, w[k].text);
			judge_delete(c->j, &w[last], false, what, S);
		}
	if (!strchr(w[last].text, ':'))
		judge_write(c->j, &w[last], c->name);
	return true;
}

static bool rule_tee(struct call *c)
{
	for (size_t k = 1; k < c->n; k++)
		if (c->w[k].text[0] != '-')
			judge_write(c->j, &c->w[k], "tee");
	return true;
}

/* sed -i, perl -i: the files named are rewritten (perl is an interpreter
 * and judged by that row first). */
static bool rule_edit_in_place(struct call *c)
{
	const struct sh_word *w = c->w;
	size_t n = c->n;
	if (!((!strcmp(c->name, "sed") && (has_opt(w, n, 'i', "--in-place") || has_word(w, n, "--in-place"))) ||
	      (!strcmp(c->name, "perl") && has_opt(w, n, 'i', NULL))))
		return false;
	size_t k = first_operand(w, n, 1);
	bool script_given = false;
	for (size_t q = 1; q < n; q++)
		if (!strcmp(w[q].text, "-e") || !strcmp(w[q].text, "-f") || starts(w[q].text, "--expression"))
			script_given = true;
	if (!script_given)
		k++;
	for (; k < n; k++)
		if (w[k].text[0] != '-')
			judge_write(c->j, &w[k], c->name);
	return true;
}

static bool rule_dd(struct call *c)
{
	for (size_t k = 1; k < c->n; k++) {
		if (starts(c->w[k].text, "of=")) {
			struct sh_word o = c->w[k];
			o.text = c->w[k].text + 3;
			judge_write(c->j, &o, "dd");
		}
		if (starts(c->w[k].text, "if=")) {
			struct path p;
			classify_path(c->w[k].text + 3, false, false, &p);
			if (p.cls == PC_DEVICE)
				add(c->j, M, "disk", "dd reads the raw disk %s", p.norm);
		}
	}
	return true;
}

static bool is_formatter(const char *name)
{
	return starts(name, "mkfs") || starts(name, "mke2fs") ||
	       in_list(name, NAMES("mkswap", "mkntfs", "mkdosfs", "wipefs", "blkdiscard", "format", "diskpart",
				   "pvremove", "vgremove", "lvremove", "flashrom"));
}

static bool rule_format(struct call *c)
{
	const char *name = c->name;
	bool device = false;
	for (size_t k = 1; k < c->n; k++) {
		struct path p;
		classify_path(c->w[k].text, c->w[k].dynamic, c->w[k].lead_dynamic, &p);
		if (p.cls == PC_DEVICE || strchr(c->w[k].text, ':') || p.cls == PC_DYN)
			device = true;
	}
	if (device || !strcmp(name, "diskpart") || !strcmp(name, "flashrom") || starts(name, "lv") ||
	    starts(name, "vg") || starts(name, "pv"))
		add(c->j, C, "disk", "%s erases a disk or partition: %s", name, c->shown);
	else
		add(c->j, M, "disk", "%s formats a file or volume: %s", name, c->shown);
	return true;
}

static bool rule_partition(struct call *c)
{
	const struct sh_word *w = c->w;
	size_t n = c->n;
	bool listing = has_opt(w, n, 'l', "--list") || has_word(w, n, "print") || has_opt(w, n, 'd', "--dump") ||
		       has_word(w, n, "-p") || has_word(w, n, "--print");
	if (!listing)
		add(c->j, C, "disk", "%s rewrites a partition table: %s", c->name, c->shown);
	return true;
}

static bool rule_disk_erase(struct call *c)
{
	for (size_t k = 1; k < c->n; k++) {
		const char *t = c->w[k].text;
		if (strstr(t, "security-erase") || strstr(t, "trim-sector") || strstr(t, "write-sector") ||
		    !strcmp(t, "luksFormat") || !strcmp(t, "erase") || !strcmp(t, "luksErase") ||
		    !strcmp(t, "--zero-superblock") || !strcmp(t, "--create") || !strcmp(t, "destroy") ||
		    !strcmp(t, "labelclear") || starts(t, "eraseDisk") || starts(t, "eraseVolume") ||
		    starts(t, "zeroDisk") || (!strcmp(c->name, "badblocks") && t[0] == '-' && strchr(t, 'w'))) {
			add(c->j, C, "disk", "%s destroys the data on a disk or pool: %s", c->name, c->shown);
			return true;
		}
	}
	return true;
}

static bool rule_shutdown(struct call *c)
{
	if (!strcmp(c->name, "shutdown") && has_opt(c->w, c->n, 'c', NULL))
		return true;
	add(c->j, H, "shutdown", "%s stops or restarts the machine", c->shown);
	return true;
}

static bool rule_runlevel(struct call *c)
{
	if (c->n > 1 && strchr("016sS", c->w[1].text[0]) && !c->w[1].text[1]) {
		add(c->j, H, "shutdown", "%s changes the run level (halt, reboot, single user)", c->shown);
		return true;
	}
	return false;
}

static bool rule_services(struct call *c)
{
	static const char *const net_units[] = {"firewalld", "ufw", "nftables", "iptables", "ip6tables",
		"apparmor", "fail2ban", NULL};
	static const char *const access_units[] = {"ssh", "sshd", "networking", "NetworkManager",
		"systemd-networkd", "network", "wpa_supplicant", NULL};
	const struct sh_word *w = c->w;
	size_t n = c->n, k = first_operand(w, n, 1);
	bool service = !strcmp(c->name, "service");
	if (k >= n)
		return true;
	const char *verb = w[k].text;
	if (service && k + 1 < n)  /* service UNIT VERB */
		verb = w[k + 1].text;
	if (in_list(verb, NAMES("reboot", "poweroff", "halt", "kexec", "emergency", "rescue", "soft-reboot", "isolate"))) {
		add(c->j, H, "shutdown", "%s stops or restarts the machine", c->shown);
		return true;
	}
	if (in_list(verb, NAMES("suspend", "hibernate", "hybrid-sleep"))) {
		add(c->j, M, "shutdown", "%s suspends the machine", c->shown);
		return true;
	}
	bool stop = in_list(verb, NAMES("stop", "disable", "mask", "kill"));
	bool start = in_list(verb, NAMES("start", "enable", "unmask"));
	for (size_t q = service ? k : k + 1; q < n; q++) {
		char unit[128];
		snprintf(unit, sizeof unit, "%s", w[q].text);
		char *dot = strstr(unit, ".service");
		if (dot)
			*dot = '\0';
		if (stop && in_list(unit, net_units))
			add(c->j, H, "network", "%s turns the firewall off", c->shown);
		else if (stop && in_list(unit, access_units))
			add(c->j, H, "network", "%s may cut off network or remote access", c->shown);
		else if (stop)
			add(c->j, M, "services", "%s stops a system service", c->shown);
		else if (start && (in_list(unit, access_units) || starts(unit, "telnet") || starts(unit, "vnc") ||
				   starts(unit, "xrdp") || starts(unit, "rsh")))
			add(c->j, M, "network", "%s opens a remote login service", c->shown);
	}
	return true;
}

/* Process 1 (init, systemd) or every process ends the system; so does
 * every process of root. */
static bool is_init(const char *name) { return in_list(name, NAMES("init", "systemd", "1")); }

static bool root_user(const struct sh_word *w, size_t n)
{
	for (size_t k = 1; k + 1 < n; k++)
		if (in_list(w[k].text, NAMES("-u", "-U", "--uid", "--euid", "--user")) &&
		    (!strcmp(w[k + 1].text, "root") || !strcmp(w[k + 1].text, "0")))
			return true;
	return false;
}

static bool rule_kill(struct call *c)
{
	const struct sh_word *w = c->w;
	size_t n = c->n, k = 1;
	bool init = false, all = false;
	if (!strcmp(c->name, "kill")) {
		/* kill [-SIGNAL | -s SIGNAL | -n NUMBER] [--] PID...: the first
		 * word may be a signal, every later one is a process */
		if (k < n && (!strcmp(w[k].text, "-s") || !strcmp(w[k].text, "-n")))
			k += 2;
		else if (k < n && w[k].text[0] == '-' && strcmp(w[k].text, "-1") && strcmp(w[k].text, "--"))
			k++;
		else if (k + 1 < n && !strcmp(w[k].text, "-1") && w[k + 1].text[0] != '-')
			k++;  /* kill -1 PID: signal 1 */
		for (; k < n; k++) {
			init = init || !strcmp(w[k].text, "1");
			all = all || !strcmp(w[k].text, "-1");
		}
	} else if (!strcmp(c->name, "killall5")) {
		all = true;
	} else {
		for (; k < n; k++)
			if (w[k].text[0] != '-' && is_init(w[k].text) &&
			    !in_list(w[k - 1].text, NAMES("-u", "-U", "--uid", "--euid", "--user", "-s", "--signal", "-g")))
				init = true;
		all = root_user(w, n);
	}
	if (init)
		add(c->j, H, "shutdown", "%s kills init (process 1): the system stops", c->shown);
	else if (all)
		add(c->j, H, "shutdown", "%s kills every process, or all of root's, stopping the system", c->shown);
	else if (!strcmp(c->name, "pkill") && (has_word(w, n, "-u") || has_word(w, n, ".")))
		add(c->j, M, "processes", "%s kills many processes", c->shown);
	return true;
}

/* Package managers whose verb says what they do (apt remove ...). */
static bool rule_packages(struct call *c)
{
	const struct sh_word *w = c->w;
	size_t n = c->n, vk = first_operand(w, n, 1);
	const char *verb = vk < n ? w[vk].text : "";
	if (in_list(verb, NAMES("remove", "purge", "autoremove", "autopurge", "erase", "rm", "del", "uninstall",
				"delete"))) {
		bool forced = has_word(w, n, "--allow-remove-essential") || has_word(w, n, "--force-all");
		if (in_list(c->name, NAMES("pip", "pip3", "pipx", "gem")))
			add(c->j, M, "packages", "%s uninstalls packages", c->shown);
		else
			judge_packages(c->j, w, n, vk + 1, c->name, forced);
	}
	return true;
}

/* Package managers whose options say what they do (dpkg -r ...). */
static bool rule_packages_by_option(struct call *c)
{
	const char *name = c->name;
	bool removal = false, forced = false;
	bool pacman = in_list(name, NAMES("pacman", "yay", "paru"));
	for (size_t k = 1; k < c->n; k++) {
		const char *t = c->w[k].text;
		if ((!strcmp(name, "dpkg") && in_list(t, NAMES("-r", "-P", "--remove", "--purge"))) ||
		    (!strcmp(name, "rpm") && (starts(t, "-e") || !strcmp(t, "--erase"))) ||
		    (pacman && (starts(t, "-R") || !strcmp(t, "--remove"))) ||
		    (!strcmp(name, "emerge") && in_list(t, NAMES("-C", "--unmerge", "--depclean", "-c"))) ||
		    (!strcmp(name, "nix-env") && (!strcmp(t, "-e") || !strcmp(t, "--uninstall"))))
			removal = true;
		if (starts(t, "--force-remove-essential") || starts(t, "--force-all") || !strcmp(t, "--nodeps") ||
		    (starts(t, "-R") && strstr(t, "dd")))
			forced = true;
	}
	if (removal)
		judge_packages(c->j, c->w, c->n, 1, name, forced);
	return true;
}

static bool rule_node_packages(struct call *c)
{
	const struct sh_word *w = c->w;
	size_t n = c->n, vk = first_operand(w, n, 1);
	const char *verb = vk < n ? w[vk].text : "";
	if (in_list(verb, NAMES("uninstall", "remove", "rm", "un")) &&
	    (has_opt(w, n, 'g', "--global") || has_word(w, n, "global")))
		add(c->j, M, "packages", "%s removes a global package", c->shown);
	return false;
}

static bool rule_modules(struct call *c)
{
	const struct sh_word *w = c->w;
	size_t n = c->n;
	if (!strcmp(c->name, "modprobe") && (has_opt(w, n, 'n', "--dry-run") || has_opt(w, n, 'c', "--showconfig") ||
					     has_word(w, n, "--show-depends") || has_opt(w, n, 'D', NULL)))
		return true;
	add(c->j, H, "kernel", "%s loads or unloads kernel code", c->shown);
	return true;
}

/* Kernel parameters whose change is more than tuning: KEY=VALUE where KEY
 * starts with key and VALUE with value (NULL: any value but 0). */
static const struct {
	const char *key, *value;
	const char *why;
} sysctl_keys[] = {
	{"kernel.panic", NULL, "makes the kernel reboot or halt when something goes wrong"},
	{"vm.panic_on_oom", NULL, "makes the kernel halt or reboot when memory runs out"},
	{"kernel.core_pattern", "|", "runs a program as root whenever a process crashes"},
	{"kernel.randomize_va_space", "0", "turns address-space randomisation off"},
	{"kernel.yama.ptrace_scope", "0", "lets a process read the memory of the user's other processes"},
	{"kernel.kptr_restrict", "0", "shows kernel addresses to everyone"},
	{"kernel.unprivileged_bpf_disabled", "0", "lets every user load BPF programs into the kernel"},
	{"fs.protected_symlinks", "0", "turns the protection against symlink attacks off"},
	{"fs.protected_hardlinks", "0", "turns the protection against hard-link attacks off"},
	{"fs.suid_dumpable", NULL, "lets set-user-id programs leave core dumps with their secrets"},
	{"kernel.sysrq", "1", "turns every magic SysRq key on (reboot, crash, kill all)"},
};

static bool rule_sysctl(struct call *c)
{
	for (size_t k = 1; k < c->n; k++) {
		const char *t = c->w[k].text, *eq = strchr(t, '=');
		const char *v = eq ? eq + 1 + strspn(eq + 1, " \"'") : "";
		bool special = false;
		for (size_t q = 0; eq && q < sizeof sysctl_keys / sizeof *sysctl_keys; q++)
			if (starts(t, sysctl_keys[q].key) &&
			    (sysctl_keys[q].value ? starts(v, sysctl_keys[q].value) : strcmp(v, "0") != 0)) {
				add(c->j, H, "kernel", "%s %s", c->shown, sysctl_keys[q].why);
				special = true;
			}
		if (!special && (eq || in_list(t, NAMES("-w", "-p", "--system"))))
			add(c->j, M, "kernel", "%s changes kernel parameters", c->shown);
	}
	return true;
}

static bool rule_boot(struct call *c)
{
	add(c->j, M, "kernel", "%s changes kernel modules or the boot loader", c->shown);
	return true;
}

static bool rule_ufw(struct call *c)
{
	size_t k = first_operand(c->w, c->n, 1);
	const char *verb = k < c->n ? c->w[k].text : "";
	if (!strcmp(verb, "disable") || !strcmp(verb, "reset") ||
	    (!strcmp(verb, "default") && has_word(c->w, c->n, "allow")))
		add(c->j, H, "network", "%s turns the firewall off", c->shown);
	else if (!strcmp(verb, "allow"))
		add(c->j, M, "network", "%s opens a port", c->shown);
	return true;
}

static bool rule_firewall(struct call *c)
{
	const struct sh_word *w = c->w;
	size_t n = c->n;
	bool listing = has_opt(w, n, 'L', "--list") || has_opt(w, n, 'S', "--list-rules") ||
		       (n > 1 && !strcmp(w[1].text, "list")) || has_word(w, n, "--list-all") || has_word(w, n, "--state");
	bool open = has_opt(w, n, 'F', "--flush") || has_opt(w, n, 'X', "--delete-chain") || has_word(w, n, "flush") ||
		    (has_opt(w, n, 'P', "--policy") && has_word(w, n, "ACCEPT")) || has_word(w, n, "--panic-off") ||
		    has_word(w, n, "--set-default-zone=trusted");
	if (listing && !open)
		return true;
	if (open)
		add(c->j, H, "network", "%s drops firewall rules, opening the machine", c->shown);
	else
		add(c->j, M, "network", "%s changes firewall rules", c->shown);
	return true;
}

static bool rule_setenforce(struct call *c)
{
	if (c->n > 1 && (!strcmp(c->w[1].text, "0") || !strcasecmp(c->w[1].text, "permissive"))) {
		add(c->j, H, "network", "%s turns SELinux enforcement off", c->shown);
		return true;
	}
	return false;
}

static bool rule_net_tool(struct call *c)
{
	bool listen = false;
	for (size_t k = 1; k < c->n; k++) {
		const char *t = c->w[k].text;
		if ((t[0] == '-' && t[1] != '-' && (strchr(t, 'e') || strchr(t, 'c'))) || !strcmp(t, "--exec") ||
		    !strcmp(t, "--sh-exec") || !strcmp(t, "--lua-exec") || case_contains(t, "exec:") ||
		    case_contains(t, "system:")) {
			add(c->j, C, "remote-shell", "%s connects a program to the network (a remote shell): %s", c->name,
			    c->shown);
			return true;
		}
		if ((t[0] == '-' && t[1] != '-' && strchr(t, 'l')) || !strcmp(t, "--listen") || case_contains(t, "listen"))
			listen = true;
	}
	if (listen)
		add(c->j, M, "network", "%s listens for connections from the network", c->shown);
	return true;
}

static bool rule_ssh(struct call *c)
{
	static const char *const ssh_val[] = {"-p", "-i", "-l", "-o", "-F", "-J", "-L", "-R", "-D", "-b", "-c",
		"-e", "-E", "-m", "-O", "-Q", "-S", "-w", "-W", "-B", NULL};
	struct judge *j = c->j;
	if (has_word(c->w, c->n, "-R"))
		add(j, M, "network", "ssh -R exposes a local port on a remote host");
	size_t k = skip_opts(c->w, c->n, 1, ssh_val);
	if (k + 1 < c->n) {
		char text[2048] = "";
		for (size_t q = k + 1; q < c->n; q++) {
			if (q > k + 1)
				strncat(text, " ", sizeof text - strlen(text) - 1);
			strncat(text, c->w[q].text, sizeof text - strlen(text) - 1);
		}
		judge_elsewhere(j, text, "on the remote host: ");
	}
	return true;
}

static bool rule_tunnel(struct call *c)
{
	add(c->j, M, "network", "%s exposes a local service to the internet", c->shown);
	return true;
}

static bool rule_xhost(struct call *c)
{
	if (c->n > 1 && !strcmp(c->w[1].text, "+")) {
		add(c->j, H, "network", "xhost + lets any host use the display (read keys, screens)");
		return true;
	}
	return false;
}

static bool rule_containers(struct call *c)
{
	const struct sh_word *w = c->w;
	size_t n = c->n;
	if (n <= 1)
		return false;
	for (size_t k = 1; k < n; k++) {
		const char *t = w[k].text;
		if (!strcmp(t, "--privileged") || starts(t, "/:/") || starts(t, "--pid=host") ||
		    (k > 1 && (!strcmp(w[k - 1].text, "-v") || !strcmp(w[k - 1].text, "--volume")) && starts(t, "/:"))) {
			add(c->j, H, "privilege", "%s gives a container the whole host", c->shown);
			return true;
		}
	}
	if ((has_word(w, n, "prune") && (has_opt(w, n, 'a', "--all") || has_word(w, n, "--volumes"))))
		add(c->j, M, "delete", "%s deletes images, containers or volumes", c->shown);
	return true;
}

/* One group name of a comma-separated list: an administrators' group? */
static bool admin_group(const char *g, size_t len)
{
	return (len == 4 && (!strncmp(g, "sudo", 4) || !strncmp(g, "root", 4))) ||
	       (len == 5 && (!strncmp(g, "wheel", 5) || !strncmp(g, "admin", 5))) ||
	       (len == 6 && !strncmp(g, "docker", 6));
}

static bool rule_accounts(struct call *c)
{
	const struct sh_word *w = c->w;
	size_t n = c->n;
	const char *name = c->name;
	bool uid0 = false, admin = false;
	for (size_t k = 1; k + 1 < n; k++) {
		if ((!strcmp(w[k].text, "-u") || !strcmp(w[k].text, "--uid")) && !strcmp(w[k + 1].text, "0"))
			uid0 = true;
		if (in_list(w[k].text, NAMES("-G", "-aG", "--groups", "-a")))
			for (const char *g = w[k + 1].text; *g;) {
				size_t len = strcspn(g, ",");
				if (admin_group(g, len))
					admin = true;
				g += len + (g[len] == ',');
			}
	}
	if (!strcmp(name, "gpasswd") && (has_word(w, n, "sudo") || has_word(w, n, "wheel") || has_word(w, n, "root")))
		admin = true;
	if (uid0)
		add(c->j, C, "accounts", "%s makes an account with user id 0 (a second root)", c->shown);
	else if (admin)
		add(c->j, H, "accounts", "%s gives an account administrator rights", c->shown);
	else if (!strcmp(name, "chpasswd") || (!strcmp(name, "passwd") && (has_opt(w, n, 'd', "--delete"))))
		add(c->j, H, "accounts", "%s changes or removes passwords", c->shown);
	else
		add(c->j, M, "accounts", "%s changes user accounts", c->shown);
	return true;
}

/* What a scheduler reads: the file it names (when this command line
 * wrote it) or its standard input. */
static char *job_text(struct call *c, const char *file)
{
	bool decoder = false;
	if (!file || !strcmp(file, "-"))
		return fed_text(c->j, c->s, c->ci, &decoder);
	for (int d = 0; d < c->j->n_written; d++)
		if (!strcmp(sh_basename(file), c->j->written[d]))
			return xstrdup(c->j->content[d]);
	return NULL;
}

/* crontab lines: a schedule (five fields, or @reboot ...), then a command
 * that runs with the user's rights, again and again. */
static void judge_crontab_lines(struct judge *j, const char *text)
{
	char *copy = xstrdup(text), *save = NULL;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		line += strspn(line, " \t");
		size_t word = strcspn(line, " \t=");
		if (!*line || *line == '#' || line[word] == '=')  /* comments, SHELL=/bin/sh */
			continue;
		for (int fields = *line == '@' ? 1 : 5; fields > 0 && *line; fields--) {
			line += strcspn(line, " \t");
			line += strspn(line, " \t");
		}
		if (*line)
			judge_elsewhere(j, line, "in a scheduled job: ");
	}
	free(copy);
}

static bool rule_crontab(struct call *c)
{
	if (has_opt(c->w, c->n, 'r', NULL)) {
		add(c->j, H, "crontab", "%s deletes every scheduled job of the user", c->shown);
	} else if (!has_opt(c->w, c->n, 'l', NULL)) {
		size_t k = first_operand(c->w, c->n, 1);
		char *jobs = job_text(c, k < c->n ? c->w[k].text : NULL);
		add(c->j, M, "crontab", "%s installs or edits scheduled jobs", c->shown);
		if (jobs)
			judge_crontab_lines(c->j, jobs);
		free(jobs);
	}
	return true;
}

static bool rule_at(struct call *c)
{
	const char *file = NULL;
	for (size_t k = 1; k + 1 < c->n; k++)
		if (!strcmp(c->w[k].text, "-f"))
			file = c->w[k + 1].text;
	char *job = job_text(c, file);
	add(c->j, M, "crontab", "%s schedules a command to run later", c->shown);
	if (job)
		judge_elsewhere(c->j, job, "in a job run later: ");
	free(job);
	return true;
}

static bool rule_history(struct call *c)
{
	if (has_opt(c->w, c->n, 'c', NULL))
		add(c->j, H, "history", "history -c erases the shell history");
	else if (has_opt(c->w, c->n, 'd', NULL))
		add(c->j, M, "history", "history -d deletes history entries");
	return true;
}

static bool rule_unset(struct call *c)
{
	if (!has_word(c->w, c->n, "HISTFILE"))
		return false;
	add(c->j, H, "history", "unset HISTFILE stops the shell history");
	return true;
}

static bool rule_set(struct call *c)
{
	if (!(has_word(c->w, c->n, "history") && has_word(c->w, c->n, "+o")))
		return false;
	add(c->j, H, "history", "set +o history stops the shell history");
	return true;
}

static bool rule_variables(struct call *c)
{
	for (size_t k = 1; k < c->n; k++) {
		const char *t = c->w[k].text;
		if (starts(t, "HISTFILE=") || starts(t, "HISTSIZE=0") || starts(t, "HISTFILESIZE=0"))
			add(c->j, H, "history", "%s stops the shell history", t);
	}
	return true;
}

static bool rule_git(struct call *c)
{
	static const char *const global_val[] = {"-C", "-c", "--git-dir", "--work-tree", "--namespace",
		"--config-env", "--super-prefix", NULL};
	const struct sh_word *w = c->w;
	size_t n = c->n;
	const struct sh_word *dir = NULL;
	if (n <= 1)
		return false;
	/* git [global options] VERB ...: -C DIR runs it in DIR */
	for (size_t k = 1; k + 1 < n && w[k].text[0] == '-'; k++)
		if (!strcmp(w[k].text, "-C") || !strcmp(w[k].text, "--work-tree"))
			dir = &w[k + 1];
	size_t k = skip_opts(w, n, 1, global_val);
	const char *verb = k < n ? w[k].text : "";
	if (!strcmp(verb, "clean") && has_opt(w + k, n - k, 'f', "--force")) {
		/* every file git does not track (-d: directories too, -x:
		 * ignored ones too): in a home or system directory that is a
		 * repository, most of what is there */
		static const struct sh_word here = {.text = ".", .sub_begin = -1, .sub_end = -1};
		struct path p;
		if (!dir)
			dir = &here;
		classify_path(dir->text, dir->dynamic, dir->lead_dynamic, &p);
		if (p.cls == PC_HOME || p.cls == PC_ROOT || p.cls == PC_SYSDIR || p.cls == PC_DYN_ROOT)
			add(c->j, H, "delete", "%s deletes every file git does not track in %s: %s", c->shown, p.norm,
			    describe(&p));
		else
			add(c->j, M, "git", "%s throws away uncommitted work", c->shown);
	} else if ((!strcmp(verb, "reset") && has_word(w, n, "--hard")) ||
		   (!strcmp(verb, "checkout") && has_word(w, n, "--") && has_word(w, n, ".")) ||
		   (!strcmp(verb, "restore") && has_word(w, n, "."))) {
		add(c->j, M, "git", "%s throws away uncommitted work", c->shown);
	} else if (!strcmp(verb, "push") && (has_opt(w, n, 'f', "--force") || has_word(w, n, "--force-with-lease") ||
					     has_word(w, n, "--mirror") || has_word(w, n, "--delete"))) {
		add(c->j, M, "git", "%s rewrites or deletes history on the remote", c->shown);
	} else if (!strcmp(verb, "filter-branch") || !strcmp(verb, "filter-repo")) {
		add(c->j, M, "git", "%s rewrites the repository history", c->shown);
	}
	return true;
}

/* ssh-keygen -f FILE writes a new key over FILE after asking; fed a yes
 * (yes |, echo y |, <<< y) it overwrites the key in place. */
static bool rule_ssh_keygen(struct call *c)
{
	const struct sh_word *file = NULL;
	bool decoder = false;
	for (size_t k = 1; k + 1 < c->n; k++)
		if (!strcmp(c->w[k].text, "-f"))
			file = &c->w[k + 1];
	if (!file)
		return true;
	struct path p;
	classify_path(file->text, file->dynamic, file->lead_dynamic, &p);
	const char *r = home_rest(&p);
	bool key = (r && starts(r, ".ssh/")) || starts(p.norm, "/etc/ssh/");
	char *answer = key ? fed_text(c->j, c->s, c->ci, &decoder) : NULL;
	if (answer && (answer[0] == 'y' || answer[0] == 'Y'))
		add(c->j, H, "ssh-keys", "%s answers yes to overwriting the ssh key %s: the old key is lost", c->shown,
		    p.norm);
	free(answer);
	return true;
}

static bool rule_database(struct call *c)
{
	for (size_t k = 1; k <= c->n; k++) {
		const char *t = k < c->n ? c->w[k].text : NULL;
		for (size_t r = 0; !t && r < c->cmd->n_redir; r++)
			if (c->cmd->redir[r].op == SH_R_HEREDOC || c->cmd->redir[r].op == SH_R_HERESTR)
				t = c->cmd->redir[r].target.text;
		if (!t)
			continue;
		if (case_contains(t, "drop database") || case_contains(t, "drop table") || case_contains(t, "drop schema") ||
		    case_contains(t, "truncate ") || case_contains(t, "dropDatabase") || !strcasecmp(t, "flushall") ||
		    !strcasecmp(t, "flushdb") || (case_contains(t, "delete from") && !case_contains(t, "where"))) {
			add(c->j, H, "database", "%s deletes a database, a table or all its rows", c->shown);
			return true;
		}
	}
	return true;
}

static bool rule_infrastructure(struct call *c)
{
	if (!has_word(c->w, c->n, "destroy"))
		return false;
	add(c->j, H, "delete", "%s destroys the infrastructure it manages", c->shown);
	return true;
}

static bool rule_kubectl(struct call *c)
{
	const struct sh_word *w = c->w;
	size_t n = c->n, k = first_operand(w, n, 1);
	if (!(n > 1 && !strcmp(w[k < n ? k : 0].text, "delete")))
		return false;
	add(c->j, has_word(w, n, "--all") || has_word(w, n, "namespace") || has_word(w, n, "ns") ? H : M, "delete",
	    "%s deletes cluster resources", c->shown);
	return true;
}

static bool rule_aws(struct call *c)
{
	if (!(has_word(c->w, c->n, "rm") && has_word(c->w, c->n, "--recursive")))
		return false;
	add(c->j, H, "delete", "%s deletes a whole bucket prefix", c->shown);
	return true;
}

static bool rule_permissions(struct call *c)
{
	judge_chmod(c->j, c->w, c->n, c->name);
	return true;
}

static bool rule_alias(struct call *c)
{
	for (size_t k = 1; k < c->n; k++) {
		const char *eq = strchr(c->w[k].text, '=');
		if (eq)
			judge_text(c->j, eq + 1, strlen(eq + 1));
	}
	return true;
}

static bool rule_mount(struct call *c)
{
	if (c->n > 2 && !has_word(c->w, c->n, "remount"))
		add(c->j, M, "disk", "%s mounts a file system", c->shown);
	return false;
}

static bool rule_unmount_all(struct call *c)
{
	if (has_opt(c->w, c->n, 'a', "--all"))
		add(c->j, M, "disk", "%s unmounts or disables every device", c->shown);
	return true;
}

static const struct rule rules[] = {
	/* code for a shell or an interpreter */
	{NULL, rule_shell, is_shell_or_eval},
	{NULL, rule_interpreter, is_interp},
	{NAMES("tar", "zip", "rsync", "ssh", "scp", "sftp", "git", "man", "script", "expect", "vim", "vi", "nvim",
	       "ex", "view"), rule_exec_options, NULL},
	{NAMES("awk", "gawk", "mawk", "nawk", "busybox-awk"), rule_awk, NULL},
	/* files */
	{NAMES("rm", "unlink", "srm", "rmdir", "shred", "wipe", "truncate"), rule_delete, NULL},
	{NAMES("find"), rule_find, NULL},
	{NAMES("mv"), rule_mv, NULL},
	{NAMES("cp", "install", "ln", "rsync"), rule_copy, NULL},
	{NAMES("tee"), rule_tee, NULL},
	{NAMES("sed", "perl"), rule_edit_in_place, NULL},
	/* disks */
	{NAMES("dd"), rule_dd, NULL},
	{NULL, rule_format, is_formatter},
	{NAMES("fdisk", "sfdisk", "cfdisk", "gdisk", "sgdisk", "parted", "gparted"), rule_partition, NULL},
	{NAMES("hdparm", "badblocks", "cryptsetup", "mdadm", "zpool", "zfs", "diskutil"), rule_disk_erase, NULL},
	/* the machine, its services and processes */
	{NAMES("shutdown", "reboot", "poweroff", "halt", "kexec"), rule_shutdown, NULL},
	{NAMES("init", "telinit"), rule_runlevel, NULL},
	{NAMES("systemctl", "service"), rule_services, NULL},
	{NAMES("kill", "pkill", "killall", "killall5"), rule_kill, NULL},
	/* packages */
	{NAMES("apt", "apt-get", "aptitude", "nala", "yum", "dnf", "microdnf", "tdnf", "zypper", "apk", "snap",
	       "flatpak", "brew", "port", "pkg", "pip", "pip3", "pipx", "gem"), rule_packages, NULL},
	{NAMES("dpkg", "rpm", "pacman", "yay", "paru", "emerge", "nix-env"), rule_packages_by_option, NULL},
	{NAMES("npm", "yarn", "pnpm"), rule_node_packages, NULL},
	/* the kernel */
	{NAMES("insmod", "rmmod", "modprobe", "kexec"), rule_modules, NULL},
	{NAMES("sysctl"), rule_sysctl, NULL},
	{NAMES("depmod", "dkms", "update-grub", "grub-install"), rule_boot, NULL},
	/* the network */
	{NAMES("ufw"), rule_ufw, NULL},
	{NAMES("iptables", "ip6tables", "iptables-legacy", "iptables-nft", "nft", "firewall-cmd"), rule_firewall, NULL},
	{NAMES("setenforce"), rule_setenforce, NULL},
	{net_tools, rule_net_tool, NULL},
	{NAMES("ssh"), rule_ssh, NULL},
	{NAMES("ngrok", "cloudflared", "lt", "localtunnel", "bore"), rule_tunnel, NULL},
	{NAMES("xhost"), rule_xhost, NULL},
	{NAMES("docker", "podman"), rule_containers, NULL},
	/* accounts, scheduled jobs, history */
	{NAMES("useradd", "adduser", "usermod", "userdel", "deluser", "passwd", "chpasswd", "gpasswd", "visudo",
	       "groupadd", "vipw"), rule_accounts, NULL},
	{NAMES("crontab"), rule_crontab, NULL},
	{NAMES("at", "batch"), rule_at, NULL},
	{NAMES("history"), rule_history, NULL},
	{NAMES("unset"), rule_unset, NULL},
	{NAMES("set"), rule_set, NULL},
	{NAMES("export", "declare", "typeset", "local", "readonly"), rule_variables, NULL},
	/* work and data elsewhere */
	{NAMES("git"), rule_git, NULL},
	{NAMES("ssh-keygen"), rule_ssh_keygen, NULL},
	{NAMES("mysql", "mariadb", "psql", "sqlite3", "sqlcmd", "mongo", "mongosh", "redis-cli", "clickhouse-client"),
	 rule_database, NULL},
	{NAMES("terraform", "tofu", "pulumi"), rule_infrastructure, NULL},
	{NAMES("kubectl"), rule_kubectl, NULL},
	{NAMES("aws"), rule_aws, NULL},
	{NAMES("chmod", "chown", "chgrp", "chattr", "setfacl", "chcon"), rule_permissions, NULL},
	{NAMES("alias"), rule_alias, NULL},
	{NAMES("mount"), rule_mount, NULL},
	{NAMES("swapoff", "umount"), rule_unmount_all, NULL},
};

static void judge_argv(struct judge *j, const struct sh_script *s, int ci, const struct sh_word *w, size_t n)
{
	struct call c = {.j = j, .s = s, .ci = ci, .cmd = &s->cmd[ci], .w = w, .n = n};

	/* peel wrappers */
	for (int guard = 0; c.n > 0 && guard < 32; guard++) {
		size_t drop = 0, k;
		c.name = sh_basename(c.w[0].text);
		if (!c.w[0].dynamic && strpbrk(c.w[0].text, "*?[")) {
			judge_glob_name(&c);
			return;
		}
		if (c.w[0].dynamic) {
			judge_dynamic_name(&c);
			return;
		}
		for (k = 0; k < sizeof wrappers / sizeof *wrappers; k++)
			if (in_list(c.name, wrappers[k].names))
				break;
		if (k == sizeof wrappers / sizeof *wrappers)
			break;
		drop = wrappers[k].peel(&c);
		if (drop == 0 || drop >= c.n)
			return;
		c.w += drop;
		c.n -= drop;
	}
	if (c.n == 0)
		return;
	c.name = sh_basename(c.w[0].text);
	show(c.w, c.n, c.shown, sizeof c.shown);
	judge_any(&c);
	for (size_t k = 0; k < sizeof rules / sizeof *rules; k++)
		if (row_matches(&rules[k], c.name) && rules[k].judge(&c))
			return;
}

/* Redirections, assignments, here-documents; then the words. */
static void judge_cmd(struct judge *j, const struct sh_script *s, int ci)
{
	const struct sh_cmd *c = &s->cmd[ci];
	bool net_fd[10] = {false}, any_net = false;
	for (size_t i = 0; i < c->n_redir; i++) {
		const struct sh_redir *r = &c->redir[i];
		bool out = r->op == SH_R_OUT || r->op == SH_R_APPEND || (r->op == SH_R_DUP_OUT && r->both);
		int fd = r->fd >= 0 ? r->fd : (out ? 1 : 0);
		if (out || r->op == SH_R_INOUT || r->op == SH_R_IN) {
			struct path p;
			classify_path(r->target.text, r->target.dynamic, r->target.lead_dynamic, &p);
			if (p.cls == PC_NET) {
				any_net = true;
				if (fd < 10)
					net_fd[fd] = true;
				if (r->both)
					net_fd[2] = true;
			} else if (out || r->op == SH_R_INOUT) {
				judge_write(j, &r->target, r->op == SH_R_APPEND ? "appending (>>)" : "redirecting (>)");
			}
		} else if ((r->op == SH_R_DUP_OUT || r->op == SH_R_DUP_IN) && fd < 10) {
			/* 0>&1, 0<&5: the descriptor now shares the target's connection */
			int target = small_fd(r->target.text);
			if (target >= 0)
				net_fd[fd] = net_fd[target];
		}
	}
	const char *who = c->argc ? sh_basename(c->argv[0].text) : "a redirection";
	if (net_fd[0] && net_fd[1])
		add(j, C, "remote-shell", "%s has its input and output on a network connection (a remote shell)", who);
	else if (any_net)
		add(j, M, "network", "%s opens a network connection through /dev/tcp", who);
	for (size_t i = 0; i < c->n_assign; i++) {
		const char *a = c->assign[i].text;
		if (starts(a, "HISTFILE=") || starts(a, "HISTSIZE=0") || starts(a, "HISTFILESIZE=0"))
			add(j, H, "history", "%s stops the shell history", a);
		if (starts(a, "LD_PRELOAD="))
			add(j, M, "code", "%s loads a library into every program", a);
	}
	if (c->argc > 0 && c->endless && c->background)
		add(j, C, "fork-bomb", "%s starts in the background on every round of a loop that never ends (a fork bomb)",
		    sh_basename(c->argv[0].text));
	if (c->argc > 0)
		judge_argv(j, s, ci, c->argv, c->argc);
	if (c->argc > 0 && c->depth == 0 && (!strcmp(c->argv[0].text, "cd") || !strcmp(c->argv[0].text, "pushd"))) {
		size_t k = first_operand(c->argv, c->argc, 1);
		const char *dir = k < c->argc ? c->argv[k].text : "~";
		char joined[1100];
		if (k < c->argc && c->argv[k].dynamic && dir[0] != '$')
			dir = "$DIR";
		if (dir[0] != '/' && dir[0] != '~' && dir[0] != '$' && current_dir[0])
			snprintf(joined, sizeof joined, "%s/%s", current_dir, dir);
		else
			snprintf(joined, sizeof joined, "%s", dir);
		snprintf(current_dir, sizeof current_dir, "%.500s", joined);
	}
}

/* Files written by curl -o / -O and wget (-O or the URL's last part). */
static void note_downloads(struct judge *j, const struct sh_script *s)
{
	for (size_t i = 0; i < s->n; i++) {
		size_t skip;
		const struct sh_cmd *c = &s->cmd[i];
		const char *n = cmd_name(c, &skip);
		const struct sh_word *w = c->argc ? c->argv + skip : NULL;  /* "> f" has no words */
		size_t na = c->argc - skip;
		for (size_t r = 0; r < c->n_redir && j->n_written < MAX_DOWNLOADS; r++) {
			if ((c->redir[r].op != SH_R_OUT && c->redir[r].op != SH_R_APPEND) || (c->redir[r].fd > 1))
				continue;
			/* what the pipeline writes up to this command: fixed text,
			 * or text a decoder made of it */
			const struct sh_cmd *up[64];
			int n_up = 0;
			bool decoder = false;
			for (size_t q = 0; q < s->n && n_up < 64; q++)
				if (s->cmd[q].pipeline == c->pipeline && s->cmd[q].pipe_pos <= c->pipe_pos && s->cmd[q].argc > 0)
					up[n_up++] = &s->cmd[q];
			char *text = pipeline_output(up, n_up, &decoder);
			if (!text)  /* sudo cat > f <<EOF: the here-document */
				text = literal_output(c);
			if (text) {
				j->written[j->n_written] = xstrdup(sh_basename(c->redir[r].target.text));
				j->decoded[j->n_written] = decoder;
				j->content[j->n_written++] = text;
			}
		}
		if (!in_list(n, fetchers))
			continue;
		const char *file = NULL, *url = NULL;
		bool remote_name = !strcmp(n, "wget");
		for (size_t k = 1; k < na; k++) {
			const char *t = w[k].text;
			if ((!strcmp(t, "-o") || !strcmp(t, "--output") || !strcmp(t, "-O") || !strcmp(t, "--output-document")) && k + 1 < na &&
			    (strcmp(n, "curl") || strcmp(t, "-O"))) {
				file = w[++k].text;
			} else if (starts(t, "--output-document=") || starts(t, "--output=")) {
				file = strchr(t, '=') + 1;
			} else if (!strcmp(n, "curl") && (!strcmp(t, "-O") || !strcmp(t, "--remote-name") || (t[0] == '-' && t[1] != '-' && strchr(t, 'O')))) {
				remote_name = true;
			} else if (strstr(t, "://")) {
				url = t;
			}
		}
		char base[256] = "";
		if (file && strcmp(file, "-")) {
			snprintf(base, sizeof base, "%s", sh_basename(file));
		} else if (!file && remote_name && url) {
			snprintf(base, sizeof base, "%s", sh_basename(url));
			base[strcspn(base, "?#")] = '\0';
		}
		if (base[0] && j->n_downloads < MAX_DOWNLOADS)
			j->downloads[j->n_downloads++] = xstrdup(base);
	}
}

static void judge_text(struct judge *j, const char *text, size_t len)
{
	if (j->depth >= MAX_TEXT_DEPTH) {
		add(j, H, "obfuscation", "commands nested more than %d levels deep", MAX_TEXT_DEPTH);
		return;
	}
	/* Nesting alone is bounded, but a script that holds several nested
	 * ones at every level multiplies them: a fuzzed line of 213 bytes
	 * (here-documents fed to shells within each other) took 4 s. */
	if (j->texts >= MAX_TEXTS) {
		add(j, H, "obfuscation", "more than %d nested scripts to judge", MAX_TEXTS);
		return;
	}
	j->texts++;
	j->depth++;
	struct sh_script *s = sh_parse(text, len);
	int saved = j->n_downloads, saved_written = j->n_written;
	const bool xargs_child = j->xargs_child;  /* a new script: its pipes feed its own xargs */
	j->xargs_child = false;
	if (s->error[0])
		add(j, M, "syntax", "the shell would read it differently or reject it: %s", s->error);
	note_downloads(j, s);
	for (size_t i = 0; i < s->n; i++)
		judge_cmd(j, s, (int)i);
	for (int d = saved; d < j->n_downloads; d++)
		free(j->downloads[d]);
	j->n_downloads = saved;
	for (int d = saved_written; d < j->n_written; d++) {
		free(j->written[d]);
		free(j->content[d]);
	}
	j->n_written = saved_written;
	j->xargs_child = xargs_child;
	sh_script_free(s);
	j->depth--;
}

void risk_judge_command(const char *cmd, size_t len, struct verdict *v)
{
	struct judge j = {.v = v};
	memset(v, 0, sizeof *v);
	current_dir[0] = '\0';
	judge_text(&j, cmd, len);
	current_dir[0] = '\0';
}

/* ---- requests ---- */

struct intent {
	enum risk_level level;
	const char *category;
	const char *pattern;   /* POSIX extended, case-insensitive, GNU \b */
	const char *why;
};

static const struct intent intents[] = {
	{C, "delete", "\\b(delete|remove|erase|wipe|destroy|nuke|rm|clear|trash)\\b.{0,40}\\b(everything|all (the |my )?(files|data|folders|directories)|whole (disk|drive|system|computer|machine|file ?system|home)|entire (disk|drive|system|computer|machine|file ?system|home)|root (directory|folder|partition)|system32|/)( |$|\\b)", "asks to delete everything"},
	{C, "delete", "rm -rf /( |$)|rm -rf \\*|rm -rf ~", "quotes a command that deletes everything"},
	{C, "disk", "\\b(wipe|erase|format|reformat|zero|overwrite|shred|destroy|partition)\\b.{0,40}\\b(disk|disks|drive|drives|hard ?drive|hdd|ssd|partition|usb|sd ?card|/dev/[a-z]+|nvme)", "asks to wipe or format a disk"},
	{C, "fork-bomb", "fork ?bomb", "asks for a fork bomb"},
	{C, "remote-shell", "\\b(reverse|bind) shell\\b|\\bbackdoor|\\brootkit|\\bkeylogger", "asks for a remote shell or malware"},
	{C, "credentials", "\\b(send|upload|post|email|mail|leak|exfiltrate|copy|transfer)\\b.{0,50}\\b(passwords?|credentials|private keys?|ssh keys?|api keys?|tokens?|secrets?|id_rsa|\\.ssh|shadow|cookies|bash history)", "asks to send secrets off the machine"},
	{C, "destroy", "\\b(destroy|brick|break|trash|corrupt)\\b.{0,30}\\b(system|computer|machine|server|os|operating system|boot ?loader|kernel)", "asks to break the system"},
	{H, "shutdown", "\\b(reboot|restart|shut ?down|power ?off|turn off|halt)\\b.{0,30}\\b(computer|machine|system|server|pc|laptop|host|box|now)\\b|\\b(reboot|shutdown|poweroff)\\b", "asks to stop or restart the machine"},
	{H, "network", "\\b(disable|turn off|stop|flush|remove|drop)\\b.{0,30}\\b(firewall|iptables|ufw|selinux|apparmor|nftables)|open (all|every) ports?", "asks to open the machine to the network"},
	{H, "history", "\\b(clear|erase|delete|wipe|hide|remove)\\b.{0,30}\\b(history|logs?|tracks)\\b", "asks to erase history or logs"},
	{H, "permissions", "chmod (-r )?777|world.writ|\\b(everyone|anyone|all users)\\b.{0,30}\\b(write|full access)|\\bwrit(e|able)\\b.{0,30}\\b(by|for|to) (everyone|anyone|all users|the world|all)\\b", "asks to open up permissions"},
	{H, "sudoers", "sudoers|nopasswd|passwordless sudo|\\broot password\\b|\\b(give|grant)\\b.{0,30}\\b(root|sudo|admin)", "asks to change who has root"},
	{H, "kernel", "\\b(load|insert|unload|remove|blacklist)\\b.{0,30}\\b(kernel module|driver|module)s?\\b", "asks to change kernel modules"},
	{H, "processes", "\\bkill (all|every)( the)? process", "asks to kill every process"},
	{H, "download-run", "\\b(curl|wget|download|fetch)\\b.{0,60}\\b(run|execute|pipe|install script|\\| ?sh|\\| ?bash)\\b", "asks to download and run code"},
	{M, "credentials", "\\b(read|show|print|dump|cat|display|get|find|list)\\b.{0,40}\\b(passwords?|credentials|private keys?|ssh keys?|/etc/shadow|shadow file|secrets?|api keys?|tokens?)\\b", "asks to read secrets"},
	{M, "history", "\\b(bash|shell|command|zsh) history\\b", "asks about the shell history"},
	{M, "packages", "\\b(uninstall|purge)\\b|\\bremove\\b.{0,30}\\b(package|packages|program|software|app)", "asks to remove software"},
	{M, "crontab", "\\bcron(tab| job)?\\b|authorized.keys|\\bstartup\\b.{0,20}\\b(script|program)", "asks to change scheduled or login-time jobs"},
	{M, "delete", "\\b(delete|remove|erase|wipe|destroy|rm|purge|shred|overwrite|truncate|drop|clean up|get rid of)\\b", "asks to delete or overwrite something"},
	{M, "processes", "\\b(kill|terminate)\\b", "asks to kill processes"},
	{M, "disk", "\\b(resize|delete|remove|create|change)\\b.{0,20}\\bpartitions?\\b|\\bunmount\\b", "asks to change partitions or mounts"},
	{M, "privilege", "\\bas root\\b|\\bwith sudo\\b|\\bsudo\\b", "asks to act as root"},
	{M, "network", "\\b(open|expose|forward)\\b.{0,30}\\b(port|ports|to the internet|publicly)", "asks to expose a service"},
};

/* Does text match the pattern?  Each pattern is compiled once per process
 * (compiling them all took longer than judging a command). */
#define MAX_PATTERNS 64
static bool matches(const char *pattern, const char *text)
{
	static const char *key[MAX_PATTERNS];
	static regex_t re[MAX_PATTERNS];
	static bool bad[MAX_PATTERNS];
	static size_t n;
	size_t i;
	for (i = 0; i < n && key[i] != pattern; i++)
		;
	if (i == n) {
		if (n == MAX_PATTERNS)
			die("risk.c: more than %d request patterns", MAX_PATTERNS);
		key[n] = pattern;
		bad[n] = regcomp(&re[n], pattern, REG_EXTENDED | REG_ICASE | REG_NOSUB) != 0;
		n++;
	}
	return !bad[i] && regexec(&re[i], text, 0, NULL, 0) == 0;
}

void risk_judge_request(const char *text, struct verdict *v)
{
	const char *done[32];
	size_t n_done = 0;
	struct judge j = {.v = v};
	memset(v, 0, sizeof *v);
	for (size_t i = 0; i < sizeof intents / sizeof intents[0]; i++) {
		bool seen = false;
		for (size_t k = 0; k < n_done; k++)
			if (!strcmp(done[k], intents[i].category))
				seen = true;
		if (seen)
			continue;
		if (matches(intents[i].pattern, text)) {
			add(&j, intents[i].level, intents[i].category, "%s", intents[i].why);
			if (n_done < 32)
				done[n_done++] = intents[i].category;
		}
	}
}

/* ---- the scope of a request ---- */

static const char system_wide[] =
	"\\b(whole|entire|complete)\\b.{0,12}\\b(system|machine|computer|server|disk|drive|file ?system)\\b|"
	"\\bsystem[- ]?wide\\b|"
	"\\b(every|all|each)\\b.{0,24}\\b(on|in|across|under|of) (the|this|my|our) (system|machine|computer|server|disk|drive)\\b|"
	"\\b(every|all|each)\\b.{0,24}\\b(on|in|under) /( |$)|"
	"\\beverything\\b.{0,12}\\b(on|in) (the|this|my) (system|machine|computer|server|disk)\\b";

/* The first path a command line touches outside the working directory
 * (in out); false if none. */
static bool touches_outside(const char *cmd, size_t len, char *out, size_t size)
{
	struct sh_script *s = sh_parse(cmd, len);
	bool found = false;
	for (size_t i = 0; i < s->n && !found; i++) {
		const struct sh_cmd *c = &s->cmd[i];
		for (size_t k = 1; k < c->argc + c->n_redir && !found; k++) {
			const struct sh_word *w = k < c->argc ? &c->argv[k] : &c->redir[k - c->argc].target;
			struct path p;
			if (k < c->argc && w->text[0] == '-')
				continue;
			classify_path(w->text, w->dynamic, w->lead_dynamic, &p);
			found = p.cls == PC_ABS || p.cls == PC_SYS_UNDER || p.cls == PC_SYSDIR || p.cls == PC_ROOT ||
				p.cls == PC_VITAL || p.cls == PC_HOME || p.cls == PC_HOME_UNDER || p.cls == PC_HOME_DOT ||
				p.cls == PC_DYN_ROOT || p.cls == PC_KERNEL || p.cls == PC_DEVICE;
			if (found)
				snprintf(out, size, "%.120s", p.norm);
		}
	}
	sh_script_free(s);
	return found;
}

void risk_judge_scope(const char *request, const struct verdict *req, const char *cmd, size_t len,
		      struct verdict *cmd_v)
{
	struct judge j = {.v = cmd_v};
	char path[128];
	if (!request || req->level == RISK_SAFE || cmd_v->level >= RISK_HIGH)
		return;
	current_dir[0] = '\0';
	if (matches(system_wide, request) && touches_outside(cmd, len, path, sizeof path))
		add(&j, H, "scope", "the request asks for this on the whole system, and the command touches %s, "
		    "outside the working directory", path);
}
