/*
 * sevrpc_emit_client.c — the IDS side: typed asynchronous calls over protobuf-c.
 *
 * Each call packs its request into a malloc'd buffer, hands it to the generic
 * rpc_client_call() (ids-svc/client/rpc_client.h) and frees it when that returns; the reply
 * thunk unpacks the payload with protobuf-c and calls the typed callback.
 */
#include <stdlib.h>

#include "sevrpc_gen.h"

/* The generic client API, as ids-svc/client/rpc_client.h promises it. The generated source
 * repeats it so it builds on its own; where rpc_client.h is on the include path it is
 * included first and the compiler checks that both agree. */
static const char rpc_client_api[] =
	"#if defined(__has_include)\n"
	"#if __has_include(\"rpc_client.h\")\n"
	"#include \"rpc_client.h\"\n"
	"#endif\n"
	"#endif\n"
	"typedef void (*rpc_reply_cb)(void *user, int status, const char *errmsg,\n"
	"\t\t\t     const uint8_t *payload, size_t len);\n"
	"int rpc_client_call(struct rpc_client *c, uint16_t method, const uint8_t *payload, size_t len,\n"
	"\t\t    uint32_t timeout_ms, rpc_reply_cb cb, void *user, uint32_t *out_id);\n";

static void emit_header(const struct sevrpc_service *sv, struct strbuf *h)
{
	sb_printf(h, "/*\n * Service %s: ids, names and typed asynchronous calls.\n *\n", sv->name);
	sb_printf(h,
		  " * Every call returns 0 once the request is queued (cb will be called exactly once),\n"
		  " * or a negative SEVMON_E* (SEVMON_ENOMEM, or what rpc_client_call returned) and\n"
		  " * then cb is never called. The request is packed before the call returns; the\n"
		  " * caller keeps ownership of req.\n"
		  " * cb gets status 0 and a decoded reply, or a negative SEVMON_E* (local: ETIMEDOUT,\n"
		  " * ECANCELED, ECONNRESET, EDECODE for an undecodable reply; or the agent's status)\n"
		  " * and resp == NULL. errmsg may be NULL. resp is owned by the generated code and\n"
		  " * freed as soon as cb returns: copy what must outlive the callback.\n */\n");
	for (size_t i = 0; i < sv->n_methods; i++)
		sb_printf(h, "#define %s_METHOD_%s %u\n", sv->uprefix, sv->methods[i].upper,
			  sv->methods[i].id);
	sb_printf(h, "\n/* Method name (\"%s\") for an id, for logs; NULL for an unknown id. */\n",
		  sv->n_methods ? sv->methods[0].name : "");
	sb_printf(h, "const char *%s_method_name(uint16_t id);\n\n", sv->prefix);
	for (size_t i = 0; i < sv->n_methods; i++) {
		const struct sevrpc_method *m = &sv->methods[i];
		char *in = sevrpc_pbc_type(m->in_type), *out = sevrpc_pbc_type(m->out_type);
		if (!in || !out) {
			h->failed = 1;
		} else {
			sb_printf(h, "/* %s (id %u): %s -> %s */\n", m->name, m->id, in, out);
			sb_printf(h,
				  "typedef void (*%s_%s_cb)(void *user, int status, const char *errmsg,\n"
				  "\t\t%s *resp);\n",
				  sv->prefix, m->lower, out);
			sb_printf(h,
				  "int %s_%s(struct rpc_client *c, const %s *req, uint32_t timeout_ms,\n"
				  "\t\t%s_%s_cb cb, void *user);\n",
				  sv->prefix, m->lower, in, sv->prefix, m->lower);
			sb_printf(h,
				  "/* The same, and *out_id gets the request id for rpc_client_cancel(). */\n"
				  "int %s_%s_id(struct rpc_client *c, const %s *req, uint32_t timeout_ms,\n"
				  "\t\t%s_%s_cb cb, void *user, uint32_t *out_id);\n\n",
				  sv->prefix, m->lower, in, sv->prefix, m->lower);
		}
		free(in);
		free(out);
	}
}

static void emit_source(const struct sevrpc_service *sv, struct strbuf *c)
{
	sb_printf(c, "const char *%s_method_name(uint16_t id)\n{\n\tswitch (id) {\n", sv->prefix);
	for (size_t i = 0; i < sv->n_methods; i++)
		sb_printf(c, "\tcase %u: return \"%s\";\n", sv->methods[i].id, sv->methods[i].name);
	sb_printf(c, "\tdefault: return NULL;\n\t}\n}\n\n");

	for (size_t i = 0; i < sv->n_methods; i++) {
		const struct sevrpc_method *m = &sv->methods[i];
		char *in = sevrpc_pbc_type(m->in_type), *out = sevrpc_pbc_type(m->out_type);
		char *inf = sevrpc_pbc_func(m->in_type), *outf = sevrpc_pbc_func(m->out_type);
		const char *p = sv->prefix, *l = m->lower;
		if (!in || !out || !inf || !outf) {
			c->failed = 1;
			goto next;
		}
		sb_printf(c, "struct %s_%s_ctx {\n\t%s_%s_cb cb;\n\tvoid *user;\n};\n\n", p, l, p, l);
		sb_printf(c,
			  "static void %s_%s_reply(void *user, int status, const char *errmsg,\n"
			  "\t\tconst uint8_t *payload, size_t len)\n{\n"
			  "\tstruct %s_%s_ctx ctx = *(struct %s_%s_ctx *)user;\n"
			  "\t%s *resp = NULL;\n\n"
			  "\tfree(user);\n"
			  "\tif (status == 0) {\n"
			  "\t\tresp = %s__unpack(NULL, len, payload);\n"
			  "\t\tif (resp == NULL) {\n"
			  "\t\t\tstatus = SEVMON_EDECODE;\n"
			  "\t\t\terrmsg = \"%s reply could not be decoded\";\n"
			  "\t\t}\n"
			  "\t} else if (status > 0) {\n"
			  "\t\tstatus = SEVMON_EPROTO; /* statuses are negative; a positive one is a bug */\n"
			  "\t}\n"
			  "\tctx.cb(ctx.user, status, errmsg, resp);\n"
			  "\tif (resp != NULL)\n"
			  "\t\t%s__free_unpacked(resp, NULL);\n"
			  "}\n\n",
			  p, l, p, l, p, l, out, outf, m->name, outf);
		sb_printf(c,
			  "int %s_%s_id(struct rpc_client *c, const %s *req, uint32_t timeout_ms,\n"
			  "\t\t%s_%s_cb cb, void *user, uint32_t *out_id)\n{\n"
			  "\tsize_t len;\n"
			  "\tuint8_t *buf;\n"
			  "\tstruct %s_%s_ctx *ctx;\n"
			  "\tuint32_t id;\n"
			  "\tint rc;\n\n"
			  "\tif (c == NULL || req == NULL || cb == NULL)\n"
			  "\t\treturn SEVMON_EINVAL;\n"
			  "\tlen = %s__get_packed_size(req);\n"
			  "\tbuf = malloc(len ? len : 1);\n"
			  "\tctx = malloc(sizeof(*ctx));\n"
			  "\tif (buf == NULL || ctx == NULL) {\n"
			  "\t\tfree(buf);\n"
			  "\t\tfree(ctx);\n"
			  "\t\treturn SEVMON_ENOMEM;\n"
			  "\t}\n"
			  "\tif (%s__pack(req, buf) != len) {\n"
			  "\t\tfree(buf);\n"
			  "\t\tfree(ctx);\n"
			  "\t\treturn SEVMON_EENCODE;\n"
			  "\t}\n"
			  "\tctx->cb = cb;\n"
			  "\tctx->user = user;\n"
			  "\trc = rpc_client_call(c, %s_METHOD_%s, buf, len, timeout_ms,\n"
			  "\t\t\t     %s_%s_reply, ctx, out_id ? out_id : &id);\n"
			  "\tfree(buf);\n"
			  "\tif (rc < 0) {\n"
			  "\t\tfree(ctx);\n"
			  "\t\treturn rc;\n"
			  "\t}\n"
			  "\treturn 0;\n"
			  "}\n\n",
			  p, l, in, p, l, p, l, inf, inf, sv->uprefix, m->upper, p, l);
		sb_printf(c,
			  "int %s_%s(struct rpc_client *c, const %s *req, uint32_t timeout_ms,\n"
			  "\t\t%s_%s_cb cb, void *user)\n{\n"
			  "\treturn %s_%s_id(c, req, timeout_ms, cb, user, NULL);\n"
			  "}\n\n",
			  p, l, in, p, l, p, l);
next:
		free(in);
		free(out);
		free(inf);
		free(outf);
	}
}

void sevrpc_emit_client(const struct sevrpc_file *f, struct strbuf *h, struct strbuf *c)
{
	sb_printf(h, "/* Generated by protoc-gen-sevrpc from %s. Do not edit. */\n", f->proto);
	sb_printf(h, "#ifndef SEVRPC_CLIENT_%s_H\n#define SEVRPC_CLIENT_%s_H\n\n", f->guard, f->guard);
	sb_printf(h, "#include <stddef.h>\n#include <stdint.h>\n\n#include \"%s.pb-c.h\"\n\n", f->base);
	sb_printf(h, "struct rpc_client;\n\n");
	for (size_t s = 0; s < f->n_services; s++)
		emit_header(&f->services[s], h);
	sb_printf(h, "#endif\n");

	sb_printf(c, "/* Generated by protoc-gen-sevrpc from %s. Do not edit. */\n", f->proto);
	sb_printf(c, "#include <stdlib.h>\n\n#include \"err.h\"\n#include \"%s.sevrpc-client.h\"\n\n",
		  f->base);
	sb_printf(c, "%s\n", rpc_client_api);
	for (size_t s = 0; s < f->n_services; s++)
		emit_source(&f->services[s], c);
}
