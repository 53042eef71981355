/* shellparse.h - read a POSIX/bash command line the way a shell would,
 * without running anything, and list every simple command inside it.
 *
 * The parser removes quotes and escapes ('...', "...", \x, $'...' with its
 * C escapes, line continuations), splits on ; & && || | |& and newlines,
 * descends into ( subshells ), { groups }, $(...), `...`, <(...) and >(...),
 * reads here-documents, performs brace expansion ({rm,-rf,/}) and expands
 * variables that the same script set (a=rm; $a) including the default IFS
 * ($IFS, ${IFS}), splitting unquoted expansions into fields as a shell does.
 * What only the running shell could know ($HOME, $(date), $1) stays in the
 * word as "$NAME" or "$(...)" and marks it dynamic; a substring of a known
 * value (${a:1:2}) is taken, and the first character of a variable that
 * always holds an absolute path (${PATH:0:1}, ${HOME::1}) is '/'.
 * Loops are followed far enough to mark the commands of a loop that never
 * ends by its condition (sh_cmd.endless).
 *
 * The result is a flat list of simple commands in source order; commands
 * found inside a substitution name the command whose word held it.  Nothing
 * here judges a command: that is risk.c's work. */
#ifndef LMU_SHELLPARSE_H
#define LMU_SHELLPARSE_H

#include <stdbool.h>
#include <stddef.h>

/* Hard limits that keep hostile input from costing much. */
#define SH_MAX_DEPTH 32        /* nested substitutions and subshells */
#define SH_MAX_COMMANDS 4096   /* simple commands in one script */
#define SH_MAX_FIELDS 1024     /* fields one word may expand to */
#define SH_MAX_INPUT (1 << 20) /* bytes */
#define SH_MAX_VALUE (1 << 16) /* bytes of a variable the parser keeps: a=$a$a doubles */
#define SH_MAX_WORD (1 << 20)  /* bytes of one word after expansion */

struct sh_word {
	char *text;          /* after quote removal and known expansions */
	bool dynamic;        /* holds a value only the running shell knows */
	bool lead_dynamic;   /* ... and begins with it ("$DIR/") */
	int sub_begin;       /* commands [sub_begin, sub_end) come from */
	int sub_end;         /* substitutions inside this word */
};

enum sh_redir_op {
	SH_R_IN,        /* <   */
	SH_R_OUT,       /* > and >| */
	SH_R_APPEND,    /* >>  */
	SH_R_INOUT,     /* <>  */
	SH_R_DUP_IN,    /* <&  */
	SH_R_DUP_OUT,   /* >&  (also &> and &>>, with fd -1) */
	SH_R_HEREDOC,   /* << and <<-: target.text is the body */
	SH_R_HERESTR,   /* <<< : target.text is the string */
};

struct sh_redir {
	int fd;                  /* the descriptor written before the operator, -1 if none */
	enum sh_redir_op op;
	bool both;               /* &> and &>>: stdout and stderr */
	struct sh_word target;
};

struct sh_cmd {
	struct sh_word *argv;   /* (argc) words after expansion */
	size_t argc;
	struct sh_word *assign; /* (n_assign) NAME=value prefixes, as "NAME=value" */
	size_t n_assign;
	struct sh_redir *redir; /* (n_redir) */
	size_t n_redir;
	int pipeline;           /* id shared by the commands of one pipeline */
	int pipe_pos;           /* 0 = first command of its pipeline */
	int pipe_len;           /* commands in the pipeline */
	bool background;        /* the pipeline ends with & */
	int parent;             /* command whose word held this one, -1 if none */
	const char *func;       /* innermost function body it is in, or NULL */
	int depth;              /* substitution nesting */
	bool endless;           /* in the body of a loop whose condition never
				 * ends it: while true / :, until false, for ((;;)) */
	int group;              /* innermost ( ) or { } group it is in, -1 if none */
};

/* A ( subshell ) or { group }: the pipeline stage it forms, so that what
 * its commands write can be followed into the next stage
 * ("(crontab -l; echo JOB) | crontab -"). */
struct sh_group {
	int pipeline;           /* -1 when not known */
	int pipe_pos;
	bool subshell;          /* ( ): its commands are one level deeper */
};

struct sh_script {
	struct sh_cmd *cmd;     /* (n) in source order */
	size_t n;
	char **funcs;           /* (n_funcs) names of functions defined */
	size_t n_funcs;
	struct sh_group *groups;  /* (n_groups) indexed by sh_cmd.group */
	size_t n_groups;
	char error[160];        /* first parse problem, "" if none */
	int n_pipelines;
};

/* Parse src[0..len).  Always returns a script (possibly partial): a
 * syntax error stops the parse and is described in script->error. */
struct sh_script *sh_parse(const char *src, size_t len);
void sh_script_free(struct sh_script *s);

/* s[0..n) with C escapes (\n \t \xHH \NNN \uHHHH ...) decoded, as in
 * $'...' and printf; a fresh string, cut at a NUL as bash does. */
char *sh_c_escapes(const char *s, size_t n);

/* What printf FORMAT ARGS writes (a[0] the format, n >= 1): C escapes in
 * the format, %s and %b take the next argument (%b decoding its escapes),
 * other conversions too, %% is %; the format is used again while
 * arguments remain.  A fresh string, at most SH_MAX_VALUE bytes. */
char *sh_printf(const struct sh_word *a, size_t n);

/* The last path component of a command name ("/usr/bin/rm" -> "rm"). */
const char *sh_basename(const char *name);

#endif
