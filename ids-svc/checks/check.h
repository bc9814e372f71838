/*
 * check.h — the check registry: every check sevmon runs, described in one table row.
 *
 * A check reads something of a guest (its kernel, through the profile; or the channel's
 * attestation), produces one typed result, encodes that result one way (jw.h), prints
 * it for a human, and may raise findings of its own. Everything that runs or shows
 * checks takes what it needs from the rows here and nowhere else:
 *   sevmon check / banner / ps / modules   run(), print() or encode(), findings()
 *   sevmon scan --checks                   the names; run() + encode() per target
 *   sevmond (scans, live views)            the names, run() + encode(), findings(), diff
 *   the store                              diff: how two results of a check compare
 *   the REST API                           GET /v1/checks lists the rows
 * Adding a check is one new file (check_NAME.c: its result type, run, encode, print)
 * plus one row in registry.c.
 *
 * Contract of every row
 * - name: [a-z0-9_]{1,32}, unique; it names the check everywhere (CLI, store, REST).
 * - run(env, result) fills *result (result_size bytes, zeroed by the caller) and returns
 *   0, or a negative SEVMON_E* with nothing to release. What it reads from the guest is
 *   untrusted: every length and pointer is bounded (the gmem layer's limits), and a list
 *   that could not be read whole is returned with result->partial set, never as an
 *   error that loses what was read.
 * - encode(result, w) writes exactly one JSON object: the check's payload, the same for
 *   every consumer. A value that is unknown (a pointer that could not be followed) is
 *   encoded as null, never as a sentinel number.
 * - print(result, f) writes the human form (a table) for the CLI.
 * - findings(result, out), when not NULL, appends the check's own findings (a check
 *   comparing two views of the kernel reports what disagrees); it never fails on guest
 *   data, only on ENOMEM.
 * - release(result) frees what run() allocated (NULL: nothing to free).
 * - members: the profile offsets (KPROFILE_OFF_*) run() reads, so that a kernel whose
 *   BTF lacks one fails this check, by name, instead of giving a wrong answer.
 */
#ifndef SEVMON_CHECK_H
#define SEVMON_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "introspect.h"
#include "jw.h"
#include "snp_verify.h"
#include "store.h"

/* Rows the registry may hold: a check set is a bit mask (uint64_t) of row indexes. */
#define CHECK_MAX 64u
/* A check's name: a store check name (STORE_CHECK_MAX) and a URL segment. */
#define CHECK_NAME_MAX 32u
/* Findings one check may raise on one target: a rootkit hiding a few things is a
 * handful; a guest that makes everything disagree is capped (check_findings.dropped
 * counts the rest). */
#define CHECK_FINDINGS_MAX 256u
/* A check's JSON payload: the store's bound (a few MiB for a busy guest's process list). */
#define CHECK_PAYLOAD_MAX STORE_PAYLOAD_MAX

/* What a check needs before it can run. */
enum check_needs {
	CHECK_NEEDS_KERNEL = 1u << 0,   /* a kernel profile (symbols, BTF offsets, slide) */
	CHECK_NEEDS_EVIDENCE = 1u << 1, /* the agent's evidence, verified at the handshake */
};

/* What a check runs against; members it does not need may be NULL. */
struct kview;
struct check_env {
	struct kintro *k;                   /* CHECK_NEEDS_KERNEL */
	const struct snp_verdict *evidence; /* CHECK_NEEDS_EVIDENCE */
	/* The sweep's kernel views (kview.h), shared by its checks: check_sweep_begin makes
	 * them; NULL, and each check that reads views reads its own (more round trips). */
	struct kview *kv;
	const char *baseline; /* the text check's baseline file; NULL: the cache's (by BUILD-ID) */
};

/* The first member of every check's result type. */
struct check_result {
	int partial; /* the guest's data could not be read whole (torn or looping list, a
		      * pointer that could not be followed): the result holds what was read */
};

/* A finding a check raised (store.h's vocabulary: severity, kind, subject, detail). */
struct check_finding {
	enum store_severity severity;
	char *kind;        /* owned; [a-z0-9_], e.g. "hidden_process" */
	char *subject;     /* owned; what it is about, e.g. "1234:bash" */
	char *technique;   /* owned or NULL; the MITRE ATT&CK technique, e.g. "T1014" */
	char *detail_json; /* owned or NULL; the evidence (addresses, symbols, owning module) */
};

/* MITRE ATT&CK techniques the checks name (attack.mitre.org/techniques/...). */
#define CHECK_T_ROOTKIT "T1014"            /* Rootkit */
#define CHECK_T_KERNEL_MODULES "T1547.006" /* Boot or Logon Autostart: Kernel Modules and Extensions */
#define CHECK_T_IMPAIR_DEFENSES "T1562"    /* Impair Defenses */
#define CHECK_T_KEYLOGGING "T1056.001"     /* Input Capture: Keylogging */
#define CHECK_T_TRAFFIC_SIGNALING "T1205"  /* Traffic Signaling (port knocking) */
#define CHECK_T_HIDE_ARTIFACTS "T1564"     /* Hide Artifacts */
#define CHECK_T_PRIV_ESC "T1068"           /* Exploitation for Privilege Escalation */
#define CHECK_T_MASQUERADING "T1036"       /* Masquerading */
struct check_findings {
	struct check_finding *v;
	size_t n, cap;
	size_t dropped; /* past CHECK_FINDINGS_MAX */
};

struct check_def {
	const char *name;
	const char *summary;    /* one line for --help and GET /v1/checks */
	unsigned needs;         /* enum check_needs */
	int in_default;         /* part of the default sweep (sevmon check, scan, sevmond) */
	enum store_diff_rule diff; /* how the store compares a result with the previous one */
	const int *members;     /* KPROFILE_OFF_* the check reads, ending with -1; NULL none */
	unsigned views;         /* the kernel views (kview.h: KV_*) it reads */
	size_t result_size;     /* sizeof its result type (starts with struct check_result) */
	int (*run)(const struct check_env *env, void *result);
	void (*encode)(const void *result, struct jw *w);
	void (*print)(const void *result, FILE *f);
	int (*findings)(const void *result, struct check_findings *out);
	void (*release)(void *result);
};

/* A set of checks: bit i is row i. */
typedef uint64_t check_set;

/* Rows in table order; check_at(i) for i < check_count(). */
size_t check_count(void);
const struct check_def *check_at(size_t i);
/* The row named name, or NULL; its index (or -1). */
const struct check_def *check_find(const char *name);
int check_index(const char *name);
/* The default sweep. */
check_set check_default_set(void);
/* Parse "banner,ps" (spaces around names allowed) into a set. 0, or SEVMON_EINVAL with
 * err naming the unknown, repeated or empty name. */
int check_set_parse(const char *list, check_set *out, char *err, size_t errcap);
/* Does the set need a kernel profile? */
int check_set_needs(check_set s, unsigned needs);
/* The rows that need any of needs (a memory image has no evidence: its sweep drops them). */
check_set check_set_with(unsigned needs);
/* Write the names of the registry, one per line with its summary, for --help texts:
 *   "  ps        processes from the kernel's task list ..." (indent spaces first). */
void check_print_help(FILE *f, int indent);

/* Can c run on this profile? 0, or SEVMON_ENOTSUP with err naming the missing BTF type
 * and member ("struct module member mem: not in this kernel's BTF"). */
int check_ready(const struct check_def *c, const struct kprofile *p, char *err, size_t errcap);

/* A sweep of the checks in s on env: the views all of them read are made once (and read
 * together, on the first check that asks); end frees them. 0 or ENOMEM. */
int check_sweep_begin(struct check_env *env, check_set s);
void check_sweep_end(struct check_env *env);
/* Round trips the sweep's views took so far (0 without a sweep). */
uint64_t check_sweep_rounds(const struct check_env *env);

/* Run c (its run(), with views of its own when env has none): what every consumer calls. */
int check_run(const struct check_def *c, const struct check_env *env, void *result);

/* One check, start to end: ready?, run, encode. On success *json is the payload (caller
 * frees), *partial its flag, and f (if not NULL) holds the check's findings (release with
 * check_findings_free). On failure err says why ("kernel: ..." / "ps: ..."). */
int check_run_json(const struct check_def *c, const struct check_env *env, char **json,
		   int *partial, struct check_findings *f, char *err, size_t errcap);

/* Append a finding (copies kind, subject, detail_json). ENOMEM; over CHECK_FINDINGS_MAX
 * it counts in dropped and returns 0. */
int check_finding_add(struct check_findings *f, enum store_severity sev, const char *kind,
		      const char *subject, const char *detail_json);
/* The same with a MITRE ATT&CK technique (NULL: none). */
int check_finding_addt(struct check_findings *f, enum store_severity sev, const char *kind,
		       const char *subject, const char *technique, const char *detail_json);
/* A finding whose evidence detail(w, arg) writes (one JSON value, bounded to 64 KiB). */
int check_finding_jw(struct check_findings *f, enum store_severity sev, const char *kind,
		     const char *subject, const char *technique,
		     void (*detail)(struct jw *w, const void *arg), const void *arg);
void check_findings_free(struct check_findings *f);

#endif
