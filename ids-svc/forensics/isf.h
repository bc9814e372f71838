/*
 * isf.h — a Volatility 3 symbol table (Intermediate Symbol Format, schema 6.2.0) of a
 * guest kernel, made from what the running kernel carries itself: every type of its BTF
 * and every symbol of its kallsyms. Volatility's own route (dwarf2json over the vmlinux of
 * an ~850 MB debug package) needs a file that is rarely at hand for a distribution or
 * cloud kernel; the guest has the same facts in memory.
 *
 * What is in it
 *   base_types  every BTF integer and float (their C names: "long unsigned int"), plus
 *               "pointer" and "void", as Volatility expects them.
 *   user_types  every struct and union, with fields at their byte offsets; a bitfield is
 *               the integer (or enum) unit that holds it and its bit position; members
 *               without a name (anonymous structs and unions) are fields marked
 *               "anonymous" (6.2.0's addition: Volatility lifts their members into the
 *               parent); typedefs and qualifiers are resolved to what they name. Structs
 *               with no name are "unnamed_struct_ID", a second definition of one name is
 *               "NAME_ID" (ID: the BTF type id); a struct only ever declared is an empty
 *               type of size 0.
 *   enums       every enum (and 64-bit enum), with the integer base of its size.
 *   symbols     every kallsyms name once (the first in address order), at its link-time
 *               address (runtime address minus the KASLR slide; per-CPU offsets as they
 *               are), the way Volatility finds KASLR itself; linux_banner with its bytes
 *               (constant_data: the banner Volatility matches a memory image against);
 *               types for the per-CPU variables BTF describes and for the handful of
 *               objects plugins read whole (init_task, init_files, modules, ...).
 *   metadata    format 6.2.0, producer sevmon, and kallsyms as the symbol source.
 *
 * BTF read from guest memory is untrusted (it was parsed by libbpf): type chains are
 * followed ISF_MAX_DEPTH deep at most, a longer or looping chain ends in "void" and is
 * counted in isf_stats.truncated.
 */
#ifndef SEVMON_ISF_H
#define SEVMON_ISF_H

#include <stddef.h>
#include <stdint.h>

#include "introspect.h"

/* Type descriptors nest at most this deep (pointer to array of pointers ...): the
 * kernel's deepest is a handful. */
#define ISF_MAX_DEPTH 8
/* The banner read for linux_banner's constant_data, NUL included. */
#define ISF_MAX_BANNER 1024u

struct isf_stats {
	size_t base_types, user_types, enums, symbols, typed_symbols;
	size_t truncated;       /* type chains cut at ISF_MAX_DEPTH */
	uint64_t json_bytes;
};

struct isf_opts {
	const char *producer_version;
	int64_t now_ms;         /* the metadata's datetime (wall clock, ms) */
};

/* Write k's ISF as JSON text through sink, in pieces of about a MiB. k must hold its
 * tables (kintro_load_tables). 0, a negative SEVMON_E* (ENOMEM, the sink's error, the
 * banner unreadable); err says more. */
int isf_write(struct kintro *k, const struct isf_opts *o,
	      int (*sink)(void *ctx, const char *p, size_t n), void *ctx, struct isf_stats *st,
	      char *err, size_t errcap);

#endif
