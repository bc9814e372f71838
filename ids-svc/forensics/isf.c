/*
 * isf.c — BTF and kallsyms to a Volatility 3 ISF (isf.h).
 *
 * One pass over the BTF ids names every struct, union and enum (generated names for the
 * anonymous, suffixed ones for a repeated name); then the sections are written in
 * schema order, flushed to the sink every ISF_FLUSH bytes.
 */
#include "isf.h"

#include <bpf/btf.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "jw.h"

/* Text held between two flushes. */
#define ISF_FLUSH (1u << 20)
/* Most bytes of JSON one flush may hold: one struct's definition (task_struct is ~30 KiB
 * of JSON) and ISF_FLUSH before it. */
#define ISF_JW_MAX (64u << 20)
/* Qualifiers and typedefs followed before a type is named (const volatile typedef ...). */
#define ISF_MAX_MODS 16

/* ---- a set of names (open addressing, FNV-1a) ---- */

struct nameset {
	const char **slot;
	size_t cap; /* a power of two */
};

static uint64_t fnv(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
	return h;
}

static int ns_init(struct nameset *ns, size_t n)
{
	ns->cap = 64;
	while (ns->cap < 2 * n + 64)
		ns->cap <<= 1;
	ns->slot = calloc(ns->cap, sizeof *ns->slot);
	return ns->slot ? 0 : SEVMON_ENOMEM;
}

/* 1 if s was added, 0 if it was there. The set never fills: at most n entries. */
static int ns_add(struct nameset *ns, const char *s)
{
	size_t i = (size_t)fnv(s) & (ns->cap - 1);
	while (ns->slot[i]) {
		if (!strcmp(ns->slot[i], s))
			return 0;
		i = (i + 1) & (ns->cap - 1);
	}
	ns->slot[i] = s;
	return 1;
}

static int ns_has(const struct nameset *ns, const char *s)
{
	size_t i = (size_t)fnv(s) & (ns->cap - 1);
	while (ns->slot[i]) {
		if (!strcmp(ns->slot[i], s))
			return 1;
		i = (i + 1) & (ns->cap - 1);
	}
	return 0;
}

static void ns_free(struct nameset *ns)
{
	free(ns->slot);
	ns->slot = NULL;
}

/* ---- the writer ---- */

struct isf {
	struct kintro *k;
	const struct btf *btf;
	uint32_t n;         /* type ids are [1, n) */
	char **name;        /* struct/union/enum id -> its ISF name (owned), else NULL */
	uint32_t *fwd_to;   /* FWD id -> the struct/union id of that name, 0: none */
	struct jw w;
	int (*sink)(void *ctx, const char *p, size_t n);
	void *ctx;
	struct isf_stats *st;
};

static const struct btf_type *type_at(const struct isf *s, uint32_t id)
{
	return id && id < s->n ? btf__type_by_id(s->btf, id) : NULL;
}

static const char *bname(const struct isf *s, uint32_t off)
{
	const char *n = btf__name_by_offset(s->btf, off);
	return n ? n : "";
}

static int flush_some(struct isf *s)
{
	if (s->w.len < ISF_FLUSH)
		return 0;
	s->st->json_bytes += s->w.len;
	return jw_flush(&s->w, s->sink, s->ctx);
}

/* Through typedefs and qualifiers to the type a member has; 0 is void. A chain longer
 * than ISF_MAX_MODS (a loop in hostile BTF) reads as void. */
static uint32_t skip_mods(struct isf *s, uint32_t id)
{
	for (int i = 0; i < ISF_MAX_MODS; i++) {
		const struct btf_type *t = type_at(s, id);
		if (!t)
			return 0;
		if (!btf_is_mod(t) && !btf_is_typedef(t))
			return id;
		id = t->type;
	}
	s->st->truncated++;
	return 0;
}

static int is_char(const struct btf_type *t, const char *name)
{
	size_t n = strlen(name);
	return (btf_int_encoding(t) & BTF_INT_CHAR) || (n >= 4 && !strcmp(name + n - 4, "char"));
}

static void desc_base(struct jw *w, const char *name)
{
	jw_obj(w);
	jw_key(w, "kind");
	jw_str(w, "base");
	jw_key(w, "name");
	jw_str(w, name);
	jw_obj_end(w);
}

/* The type descriptor of id (a member's, a pointer's target, a symbol's). */
static void desc(struct isf *s, uint32_t id, int depth)
{
	struct jw *w = &s->w;
	id = skip_mods(s, id);
	const struct btf_type *t = type_at(s, id);
	if (!t) {
		desc_base(w, "void");
		return;
	}
	if (depth >= ISF_MAX_DEPTH) {
		s->st->truncated++;
		desc_base(w, "void");
		return;
	}
	switch (btf_kind(t)) {
	case BTF_KIND_INT:
	case BTF_KIND_FLOAT:
		desc_base(w, bname(s, t->name_off));
		return;
	case BTF_KIND_PTR:
		jw_obj(w);
		jw_key(w, "kind");
		jw_str(w, "pointer");
		jw_key(w, "subtype");
		desc(s, t->type, depth + 1);
		jw_obj_end(w);
		return;
	case BTF_KIND_ARRAY: {
		const struct btf_array *a = btf_array(t);
		jw_obj(w);
		jw_key(w, "kind");
		jw_str(w, "array");
		jw_key(w, "count");
		jw_uint(w, a->nelems);
		jw_key(w, "subtype");
		desc(s, a->type, depth + 1);
		jw_obj_end(w);
		return;
	}
	case BTF_KIND_FWD:
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION: {
		uint32_t def = btf_kind(t) == BTF_KIND_FWD && s->fwd_to[id] ? s->fwd_to[id] : id;
		const struct btf_type *d = type_at(s, def);
		int uni = btf_kind(d) == BTF_KIND_UNION || (btf_kind(d) == BTF_KIND_FWD && btf_kflag(d));
		jw_obj(w);
		jw_key(w, "kind");
		jw_str(w, uni ? "union" : "struct");
		jw_key(w, "name");
		jw_str(w, s->name[def] ? s->name[def] : "");
		jw_obj_end(w);
		return;
	}
	case BTF_KIND_ENUM:
	case BTF_KIND_ENUM64:
		jw_obj(w);
		jw_key(w, "kind");
		jw_str(w, "enum");
		jw_key(w, "name");
		jw_str(w, s->name[id] ? s->name[id] : "");
		jw_obj_end(w);
		return;
	case BTF_KIND_FUNC_PROTO:
	case BTF_KIND_FUNC:
		jw_obj(w);
		jw_key(w, "kind");
		jw_str(w, "function");
		jw_obj_end(w);
		return;
	default:
		desc_base(w, "void");
	}
}

/* ---- naming ---- */

static int name_types(struct isf *s)
{
	struct nameset used;
	int rc = ns_init(&used, s->n);
	if (rc < 0)
		return rc;
	s->name = calloc(s->n, sizeof *s->name);
	s->fwd_to = calloc(s->n, sizeof *s->fwd_to);
	if (!s->name || !s->fwd_to) {
		ns_free(&used);
		return SEVMON_ENOMEM;
	}
	/* Definitions first, in id order: the first of a name keeps it. */
	for (uint32_t id = 1; id < s->n && rc == 0; id++) {
		const struct btf_type *t = type_at(s, id);
		int k = t ? btf_kind(t) : 0;
		if (k != BTF_KIND_STRUCT && k != BTF_KIND_UNION && k != BTF_KIND_ENUM &&
		    k != BTF_KIND_ENUM64)
			continue;
		const char *nm = bname(s, t->name_off);
		char buf[600];
		const char *what = k == BTF_KIND_UNION ? "union" : k == BTF_KIND_STRUCT ? "struct" : "enum";
		if (!*nm)
			snprintf(buf, sizeof buf, "unnamed_%s_%" PRIu32, what, id);
		else
			snprintf(buf, sizeof buf, "%.500s", nm);
		if (!(s->name[id] = strdup(buf)))
			rc = SEVMON_ENOMEM;
		else if (!ns_add(&used, s->name[id])) {
			/* a second definition of this name (or a generated name a real one took) */
			snprintf(buf, sizeof buf, "%.500s_%" PRIu32, s->name[id], id);
			free(s->name[id]);
			if (!(s->name[id] = strdup(buf)))
				rc = SEVMON_ENOMEM;
			else
				ns_add(&used, s->name[id]);
		}
	}
	/* Forward declarations: the definition of the same name and kind, else a placeholder
	 * of their own (an empty type: pointers to it still resolve). */
	for (uint32_t id = 1; id < s->n && rc == 0; id++) {
		const struct btf_type *t = type_at(s, id);
		if (!t || btf_kind(t) != BTF_KIND_FWD)
			continue;
		const char *nm = bname(s, t->name_off);
		int want = btf_kflag(t) ? BTF_KIND_UNION : BTF_KIND_STRUCT;
		int def = *nm ? btf__find_by_name_kind(s->btf, nm, (uint32_t)want) : -1;
		if (def > 0 && (uint32_t)def < s->n) {
			s->fwd_to[id] = (uint32_t)def;
			continue;
		}
		char buf[600];
		if (*nm && !ns_has(&used, nm))
			snprintf(buf, sizeof buf, "%.500s", nm);
		else
			snprintf(buf, sizeof buf, "unnamed_fwd_%" PRIu32, id);
		if (!(s->name[id] = strdup(buf)))
			rc = SEVMON_ENOMEM;
		else
			ns_add(&used, s->name[id]);
	}
	ns_free(&used);
	return rc;
}

/* ---- sections ---- */

static void base_entry(struct jw *w, const char *name, uint32_t size, int sign, const char *kind)
{
	jw_key(w, name);
	jw_obj(w);
	jw_key(w, "size");
	jw_uint(w, size);
	jw_key(w, "signed");
	jw_bool(w, sign);
	jw_key(w, "kind");
	jw_str(w, kind);
	jw_key(w, "endian");
	jw_str(w, "little");
	jw_obj_end(w);
}

/* The integer an enum of this size and sign is stored as (always among base_types). */
static const char *enum_base(uint32_t size, int sign)
{
	switch (size) {
	case 1:
		return sign ? "signed char" : "unsigned char";
	case 2:
		return sign ? "short int" : "short unsigned int";
	case 8:
		return sign ? "long int" : "long unsigned int";
	default:
		return sign ? "int" : "unsigned int";
	}
}

static int base_types(struct isf *s)
{
	struct jw *w = &s->w;
	struct nameset seen;
	int rc = ns_init(&seen, s->n);
	if (rc < 0)
		return rc;
	jw_key(w, "base_types");
	jw_obj(w);
	for (uint32_t id = 1; id < s->n; id++) {
		const struct btf_type *t = type_at(s, id);
		if (!t || (btf_kind(t) != BTF_KIND_INT && btf_kind(t) != BTF_KIND_FLOAT))
			continue;
		const char *nm = bname(s, t->name_off);
		if (!*nm || !strcmp(nm, "pointer") || !strcmp(nm, "void") || !ns_add(&seen, nm))
			continue;
		if (btf_kind(t) == BTF_KIND_FLOAT) {
			base_entry(w, nm, t->size, 1, "float");
		} else {
			uint8_t enc = btf_int_encoding(t);
			base_entry(w, nm, t->size, (enc & BTF_INT_SIGNED) != 0,
				   (enc & BTF_INT_BOOL) ? "bool" : is_char(t, nm) ? "char" : "int");
		}
		s->st->base_types++;
	}
	/* what enums are stored as, should the BTF lack one of them */
	static const struct { uint32_t size; int sign; } eb[] = {
		{ 1, 0 }, { 1, 1 }, { 2, 0 }, { 2, 1 }, { 4, 0 }, { 4, 1 }, { 8, 0 }, { 8, 1 },
	};
	for (size_t i = 0; i < sizeof eb / sizeof eb[0]; i++) {
		const char *nm = enum_base(eb[i].size, eb[i].sign);
		if (ns_add(&seen, nm)) {
			base_entry(w, nm, eb[i].size, eb[i].sign, eb[i].size == 1 ? "char" : "int");
			s->st->base_types++;
		}
	}
	base_entry(w, "pointer", 8, 0, "int");
	base_entry(w, "void", 0, 0, "void");
	s->st->base_types += 2;
	jw_obj_end(w);
	ns_free(&seen);
	return flush_some(s);
}

/* A bitfield member: the unit of its base type that holds it, and the bit position in it. */
static void bitfield(struct isf *s, uint32_t type, uint32_t bitoff, uint32_t bits)
{
	struct jw *w = &s->w;
	uint32_t base = skip_mods(s, type);
	const struct btf_type *b = type_at(s, base);
	uint32_t size = b && b->size && b->size <= 8 ? b->size : 4;
	uint64_t unit = bitoff / (size * 8u) * size; /* bytes */
	uint32_t pos = bitoff - (uint32_t)unit * 8u;
	if (pos + bits > size * 8u) { /* straddles two units: count from its first byte */
		unit = bitoff / 8u;
		pos = bitoff % 8u;
	}
	jw_key(w, "offset");
	jw_uint(w, unit);
	jw_key(w, "type");
	jw_obj(w);
	jw_key(w, "kind");
	jw_str(w, "bitfield");
	jw_key(w, "bit_position");
	jw_uint(w, pos);
	jw_key(w, "bit_length");
	jw_uint(w, bits);
	jw_key(w, "type");
	if (b && btf_is_any_enum(b))
		desc(s, base, ISF_MAX_DEPTH - 1);
	else if (b && btf_kind(b) == BTF_KIND_INT)
		desc_base(w, bname(s, b->name_off));
	else
		desc_base(w, enum_base(size, 0));
	jw_obj_end(w);
}

static void user_type(struct isf *s, uint32_t id, const struct btf_type *t)
{
	struct jw *w = &s->w;
	jw_key(w, s->name[id]);
	jw_obj(w);
	jw_key(w, "kind");
	jw_str(w, btf_kind(t) == BTF_KIND_UNION || (btf_kind(t) == BTF_KIND_FWD && btf_kflag(t))
			  ? "union" : "struct");
	jw_key(w, "size");
	jw_uint(w, btf_kind(t) == BTF_KIND_FWD ? 0 : t->size);
	jw_key(w, "fields");
	jw_obj(w);
	const struct btf_member *m = btf_kind(t) == BTF_KIND_FWD ? NULL : btf_members(t);
	uint16_t vlen = m ? btf_vlen(t) : 0;
	for (uint16_t i = 0; i < vlen; i++) {
		const char *mn = bname(s, m[i].name_off);
		uint32_t bitoff = btf_member_bit_offset(t, i), bits = btf_member_bitfield_size(t, i);
		char anon[48];
		uint32_t mt = skip_mods(s, m[i].type);
		const struct btf_type *mtt = type_at(s, mt);
		int is_anon = !*mn && mtt && (btf_kind(mtt) == BTF_KIND_STRUCT || btf_kind(mtt) == BTF_KIND_UNION);
		if (!*mn) {
			snprintf(anon, sizeof anon, "unnamed_field_%u", (unsigned)i);
			mn = anon;
		}
		jw_key(w, mn);
		jw_obj(w);
		if (bits) {
			bitfield(s, m[i].type, bitoff, bits);
		} else {
			jw_key(w, "offset");
			jw_uint(w, bitoff / 8u);
			jw_key(w, "type");
			desc(s, m[i].type, 0);
		}
		if (is_anon) {
			jw_key(w, "anonymous");
			jw_bool(w, 1);
		}
		jw_obj_end(w);
	}
	jw_obj_end(w);
	jw_obj_end(w);
	s->st->user_types++;
}

static int user_types(struct isf *s)
{
	struct jw *w = &s->w;
	int rc = 0;
	jw_key(w, "user_types");
	jw_obj(w);
	for (uint32_t id = 1; id < s->n && rc == 0; id++) {
		const struct btf_type *t = type_at(s, id);
		int k = t ? btf_kind(t) : 0;
		if ((k == BTF_KIND_STRUCT || k == BTF_KIND_UNION || k == BTF_KIND_FWD) && s->name[id]) {
			user_type(s, id, t);
			rc = flush_some(s);
		}
	}
	jw_obj_end(w);
	return rc;
}

static int enums(struct isf *s)
{
	struct jw *w = &s->w;
	int rc = 0;
	jw_key(w, "enums");
	jw_obj(w);
	for (uint32_t id = 1; id < s->n && rc == 0; id++) {
		const struct btf_type *t = type_at(s, id);
		if (!t || !btf_is_any_enum(t) || !s->name[id])
			continue;
		int sign = btf_kflag(t);
		jw_key(w, s->name[id]);
		jw_obj(w);
		jw_key(w, "size");
		jw_uint(w, t->size);
		jw_key(w, "base");
		jw_str(w, enum_base(t->size, sign));
		jw_key(w, "constants");
		jw_obj(w);
		for (uint16_t i = 0; i < btf_vlen(t); i++) {
			if (btf_is_enum64(t)) {
				const struct btf_enum64 *e = btf_enum64(t) + i;
				uint64_t v = btf_enum64_value(e);
				jw_key(w, bname(s, e->name_off));
				if (sign)
					jw_int(w, (int64_t)v);
				else
					jw_uint(w, v);
			} else {
				const struct btf_enum *e = btf_enum(t) + i;
				jw_key(w, bname(s, e->name_off));
				if (sign)
					jw_int(w, (int32_t)e->val);
				else
					jw_uint(w, (uint32_t)e->val);
			}
		}
		jw_obj_end(w);
		jw_obj_end(w);
		s->st->enums++;
		rc = flush_some(s);
	}
	jw_obj_end(w);
	return rc;
}

/* Objects Volatility's Linux plugins read whole by symbol (object_from_symbol), and the
 * type each one has in every kernel: BTF describes no global variable but the per-CPU
 * ones, so these come from here. A row whose struct this kernel lacks is left untyped. */
static const struct {
	const char *sym, *kind, *type;
} typed[] = {
	{ "init_task", "struct", "task_struct" },
	{ "init_files", "struct", "files_struct" },
	{ "init_mm", "struct", "mm_struct" },
	{ "init_fs", "struct", "fs_struct" },
	{ "init_uts_ns", "struct", "uts_namespace" },
	{ "init_pid_ns", "struct", "pid_namespace" },
	{ "init_net", "struct", "net" },
	{ "modules", "struct", "list_head" },
	{ "mod_tree", "struct", "mod_tree_root" },
	{ "tcp_hashinfo", "struct", "inet_hashinfo" },
};

/* The type of symbol name: a per-CPU variable's from BTF (vars), a row above, else none. */
static int symbol_type(struct isf *s, const char *name, const struct nameset *have_struct,
		       int var_id)
{
	struct jw *w = &s->w;
	if (var_id > 0) {
		const struct btf_type *v = type_at(s, (uint32_t)var_id);
		jw_key(w, "type");
		desc(s, v ? v->type : 0, 0);
		return 1;
	}
	for (size_t i = 0; i < sizeof typed / sizeof typed[0]; i++) {
		if (strcmp(typed[i].sym, name) || !ns_has(have_struct, typed[i].type))
			continue;
		jw_key(w, "type");
		jw_obj(w);
		jw_key(w, "kind");
		jw_str(w, typed[i].kind);
		jw_key(w, "name");
		jw_str(w, typed[i].type);
		jw_obj_end(w);
		return 1;
	}
	return 0;
}

/* linux_banner: its bytes up to and with the NUL, as the symbol's constant_data and an
 * array of char. */
static int banner_symbol(struct isf *s, uint64_t link, char *err, size_t errcap)
{
	struct jw *w = &s->w;
	uint8_t b[ISF_MAX_BANNER];
	int rc = gmem_read(s->k->g, s->k->p.sym_linux_banner, GMEM_VIRT, b, sizeof b);
	size_t n = rc == 0 ? strnlen((char *)b, sizeof b) : 0;
	if (rc < 0 || n == sizeof b) {
		snprintf(err, errcap, "linux_banner at 0x%" PRIx64 ": %s", s->k->p.sym_linux_banner,
			 rc < 0 ? sevmon_strerror(rc) : "no end within 1 KiB");
		return rc < 0 ? rc : SEVMON_EDECODE;
	}
	n++; /* the NUL */
	char b64[sodium_base64_ENCODED_LEN(ISF_MAX_BANNER, sodium_base64_VARIANT_ORIGINAL)];
	sodium_bin2base64(b64, sizeof b64, b, n, sodium_base64_VARIANT_ORIGINAL);
	jw_key(w, "linux_banner");
	jw_obj(w);
	jw_key(w, "address");
	jw_uint(w, link);
	jw_key(w, "type");
	jw_obj(w);
	jw_key(w, "kind");
	jw_str(w, "array");
	jw_key(w, "count");
	jw_uint(w, n);
	jw_key(w, "subtype");
	desc_base(w, "char");
	jw_obj_end(w);
	jw_key(w, "constant_data");
	jw_str(w, b64);
	jw_obj_end(w);
	s->st->symbols++;
	s->st->typed_symbols++;
	return 0;
}

static int symbols(struct isf *s, char *err, size_t errcap)
{
	struct jw *w = &s->w;
	const struct ksyms *ks = &s->k->ks;
	struct nameset seen, have_struct, vars;
	int rc = ns_init(&seen, ks->n);
	if (rc == 0)
		rc = ns_init(&have_struct, s->n);
	if (rc == 0)
		rc = ns_init(&vars, s->n);
	if (rc < 0)
		return rc;
	for (uint32_t id = 1; id < s->n; id++) {
		const struct btf_type *t = type_at(s, id);
		if (t && btf_kind(t) == BTF_KIND_STRUCT && s->name[id])
			ns_add(&have_struct, s->name[id]);
		if (t && btf_kind(t) == BTF_KIND_VAR)
			ns_add(&vars, bname(s, t->name_off));
	}
	uint64_t slide = s->k->p.slide;
	jw_key(w, "symbols");
	jw_obj(w);
	for (size_t i = 0; i < ks->n && rc == 0; i++) {
		const char *nm = ksym_name(ks, i);
		if (!nm || !*nm || !ns_add(&seen, nm))
			continue;
		uint64_t a = ks->sym[i].addr;
		/* the kernel image moves with KASLR; per-CPU offsets and absolutes do not */
		uint64_t link = a >= X86_START_KERNEL_MAP + slide ? a - slide : a;
		if (!strcmp(nm, "linux_banner")) {
			rc = banner_symbol(s, link, err, errcap);
			continue;
		}
		jw_key(w, nm);
		jw_obj(w);
		jw_key(w, "address");
		jw_uint(w, link);
		int var = ns_has(&vars, nm) ? btf__find_by_name_kind(s->btf, nm, BTF_KIND_VAR) : -1;
		s->st->typed_symbols += (size_t)symbol_type(s, nm, &have_struct, var);
		jw_obj_end(w);
		s->st->symbols++;
		rc = flush_some(s);
	}
	jw_obj_end(w);
	ns_free(&seen);
	ns_free(&have_struct);
	ns_free(&vars);
	return rc;
}

static void metadata(struct isf *s, const struct isf_opts *o)
{
	struct jw *w = &s->w;
	char when[32] = "1970-01-01T00:00:00Z", src[200];
	time_t t = (time_t)(o->now_ms / 1000);
	struct tm tm;
	if (gmtime_r(&t, &tm))
		strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(src, sizeof src, "kallsyms and BTF of Linux %s, read from guest memory",
		 s->k->p.release);
	jw_key(w, "metadata");
	jw_obj(w);
	jw_key(w, "format");
	jw_str(w, "6.2.0");
	jw_key(w, "producer");
	jw_obj(w);
	jw_key(w, "name");
	jw_str(w, "sevmon");
	jw_key(w, "version");
	jw_str(w, o->producer_version ? o->producer_version : "0");
	jw_key(w, "datetime");
	jw_str(w, when);
	jw_obj_end(w);
	jw_key(w, "linux");
	jw_obj(w);
	jw_key(w, "symbols");
	jw_arr(w);
	jw_obj(w);
	jw_key(w, "kind");
	jw_str(w, "symtab");
	jw_key(w, "name");
	jw_str(w, src);
	jw_obj_end(w);
	jw_arr_end(w);
	jw_obj_end(w);
	jw_obj_end(w);
}

int isf_write(struct kintro *k, const struct isf_opts *o,
	      int (*sink)(void *ctx, const char *p, size_t n), void *ctx, struct isf_stats *st,
	      char *err, size_t errcap)
{
	struct isf s = { .k = k, .btf = k->btf, .sink = sink, .ctx = ctx, .st = st };
	memset(st, 0, sizeof *st);
	err[0] = 0;
	if (!k->btf || !k->ks.n) {
		snprintf(err, errcap, "the kernel's BTF and kallsyms are not loaded");
		return SEVMON_EINVAL;
	}
	s.n = btf__type_cnt(k->btf);
	jw_init(&s.w, ISF_JW_MAX);
	int rc = name_types(&s);
	if (rc == 0) {
		jw_obj(&s.w);
		metadata(&s, o);
		rc = base_types(&s);
	}
	if (rc == 0)
		rc = user_types(&s);
	if (rc == 0)
		rc = enums(&s);
	if (rc == 0)
		rc = symbols(&s, err, errcap);
	char *tail = NULL;
	size_t tlen = 0;
	if (rc == 0) {
		jw_obj_end(&s.w);
		st->json_bytes += s.w.len;
		rc = jw_flush(&s.w, sink, ctx);
	}
	if (rc == 0 && (rc = jw_finish(&s.w, &tail, &tlen)) == 0)
		free(tail); /* flushed: nothing is left in it */
	else
		jw_free(&s.w);
	if (rc < 0 && !err[0])
		snprintf(err, errcap, "writing the ISF: %s", sevmon_strerror(rc));
	for (uint32_t id = 0; s.name && id < s.n; id++)
		free(s.name[id]);
	free(s.name);
	free(s.fwd_to);
	return rc;
}
