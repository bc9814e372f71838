/*
 * protoc-gen-sevrpc — protoc plugin emitting sevmon's RPC glue from service blocks.
 *
 * protoc writes a CodeGeneratorRequest to stdin and reads a CodeGeneratorResponse
 * from stdout. Both are decoded/encoded with protobuf-c code generated at build time
 * from Debian's plugin.proto. For every service of every file to generate we read
 * each method's (sevmon.v1.method_id) option — protobuf-c has no extension support,
 * so it arrives as unknown field 50001 (varint) of MethodOptions — and reject a
 * missing id, 0, an id above 65535 or a duplicate within the service, by setting
 * CodeGeneratorResponse.error (protoc prints it and fails).
 *
 * Output, per input file X.proto with at least one service:
 *   X.sevrpc-client.h/.c   typed async client calls over protobuf-c (IDS side)
 *   X.sevrpc-agent.h/.c    method table over nanopb types (agent side)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "google/protobuf/compiler/plugin.pb-c.h"
#include "sevrpc_gen.h"

/* A CodeGeneratorRequest carries every imported .proto's descriptor; real ones are
 * well under a megabyte. The cap only keeps a broken pipe from eating memory. */
#define SEVRPC_MAX_REQUEST (64u * 1024 * 1024)
/* Room for one error message in the response. */
#define SEVRPC_ERRMSG_MAX 512

typedef Google__Protobuf__Compiler__CodeGeneratorRequest GenRequest;
typedef Google__Protobuf__Compiler__CodeGeneratorResponse GenResponse;
typedef Google__Protobuf__Compiler__CodeGeneratorResponse__File GenFile;
typedef Google__Protobuf__FileDescriptorProto FileDesc;
typedef Google__Protobuf__ServiceDescriptorProto ServiceDesc;
typedef Google__Protobuf__MethodDescriptorProto MethodDesc;

static uint8_t *read_all(FILE *in, size_t *len)
{
	size_t cap = 65536, n = 0;
	uint8_t *buf = malloc(cap);
	while (buf) {
		size_t got = fread(buf + n, 1, cap - n, in);
		n += got;
		if (got == 0)
			break;
		if (n == cap) {
			if (cap >= SEVRPC_MAX_REQUEST) {
				free(buf);
				return NULL;
			}
			uint8_t *p = realloc(buf, cap * 2);
			if (!p) {
				free(buf);
				return NULL;
			}
			buf = p;
			cap *= 2;
		}
	}
	if (buf && ferror(in)) {
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

/* Decode a base-128 varint that must fill exactly [p, p+len). 0 on success. */
static int varint_exact(const uint8_t *p, size_t len, uint64_t *v)
{
	uint64_t x = 0;
	for (size_t i = 0; i < len && i < 10; i++) {
		x |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if (!(p[i] & 0x80)) {
			if (i + 1 != len)
				return -1;
			*v = x;
			return 0;
		}
	}
	return -1;
}

/* The method_id option. 0: found (*id set); -1: absent; -2: present but malformed. */
static int method_id_option(const MethodDesc *md, uint64_t *id)
{
	const Google__Protobuf__MethodOptions *o = md->options;
	int rc = -1;
	if (!o)
		return -1;
	for (unsigned i = 0; i < o->base.n_unknown_fields; i++) {
		const ProtobufCMessageUnknownField *u = &o->base.unknown_fields[i];
		if (u->tag != SEVRPC_METHOD_ID_FIELD)
			continue;
		if (u->wire_type != PROTOBUF_C_WIRE_TYPE_VARINT || varint_exact(u->data, u->len, id) != 0)
			return -2;
		rc = 0; /* protobuf semantics: the last occurrence wins */
	}
	return rc;
}

static int cmp_method_id(const void *a, const void *b)
{
	const struct sevrpc_method *x = a, *y = b;
	return (x->id > y->id) - (x->id < y->id);
}

/* "Agent" in package "sevmon.v1" -> "sevmon_agent". */
static char *service_prefix(const FileDesc *fd, const char *base, const char *svc)
{
	char *first;
	if (fd->package && fd->package[0]) {
		size_t n = strcspn(fd->package, ".");
		first = strndup(fd->package, n);
	} else {
		const char *slash = strrchr(base, '/');
		first = strdup(slash ? slash + 1 : base);
	}
	char *lsvc = sevrpc_camel_to_lower(svc);
	char *out = NULL;
	if (first && lsvc && asprintf(&out, "%s_%s", first, lsvc) < 0)
		out = NULL;
	free(first);
	free(lsvc);
	return out;
}

static int build_service(const FileDesc *fd, const char *base, const ServiceDesc *sd,
			 struct sevrpc_service *sv, char *err)
{
	sv->name = strdup(sd->name ? sd->name : "");
	sv->prefix = service_prefix(fd, base, sv->name ? sv->name : "");
	sv->uprefix = sv->prefix ? sevrpc_upper(sv->prefix) : NULL;
	sv->methods = calloc(sd->n_method ? sd->n_method : 1, sizeof(*sv->methods));
	if (!sv->name || !sv->prefix || !sv->uprefix || !sv->methods)
		goto nomem;
	for (size_t i = 0; i < sd->n_method; i++) {
		const MethodDesc *md = sd->method[i];
		const char *mname = md->name ? md->name : "?";
		uint64_t id = 0;
		int rc = method_id_option(md, &id);
		if (rc == -1) {
			snprintf(err, SEVRPC_ERRMSG_MAX,
				 "%s: method %s.%s has no (method_id) option (field %u); every method needs a stable id",
				 fd->name, sv->name, mname, SEVRPC_METHOD_ID_FIELD);
			return -1;
		}
		if (rc == -2 || id == 0 || id > SEVRPC_METHOD_ID_MAX) {
			snprintf(err, SEVRPC_ERRMSG_MAX,
				 "%s: method %s.%s has method_id %llu; ids must be 1..%u",
				 fd->name, sv->name, mname, (unsigned long long)id, SEVRPC_METHOD_ID_MAX);
			return -1;
		}
		if (md->client_streaming || md->server_streaming) {
			snprintf(err, SEVRPC_ERRMSG_MAX,
				 "%s: method %s.%s is streaming; sevrpc supports unary methods only",
				 fd->name, sv->name, mname);
			return -1;
		}
		for (size_t j = 0; j < sv->n_methods; j++) {
			if (sv->methods[j].id == id) {
				snprintf(err, SEVRPC_ERRMSG_MAX,
					 "%s: method %s.%s reuses method_id %llu of %s.%s",
					 fd->name, sv->name, mname, (unsigned long long)id, sv->name,
					 sv->methods[j].name);
				return -1;
			}
		}
		struct sevrpc_method *m = &sv->methods[sv->n_methods++];
		m->id = (uint16_t)id;
		m->name = strdup(mname);
		m->lower = sevrpc_camel_to_lower(mname);
		m->upper = m->lower ? sevrpc_upper(m->lower) : NULL;
		m->in_type = strdup(md->input_type ? md->input_type : "");
		m->out_type = strdup(md->output_type ? md->output_type : "");
		if (!m->name || !m->lower || !m->upper || !m->in_type || !m->out_type)
			goto nomem;
	}
	qsort(sv->methods, sv->n_methods, sizeof(*sv->methods), cmp_method_id);
	return 0;
nomem:
	snprintf(err, SEVRPC_ERRMSG_MAX, "protoc-gen-sevrpc: out of memory");
	return -1;
}

static int build_file(const FileDesc *fd, struct sevrpc_file *f, char *err)
{
	const char *name = fd->name ? fd->name : "";
	size_t n = strlen(name);
	if (n > 6 && strcmp(name + n - 6, ".proto") == 0)
		n -= 6;
	f->proto = strdup(name);
	f->base = strndup(name, n);
	f->guard = f->base ? sevrpc_upper(f->base) : NULL;
	f->services = calloc(fd->n_service ? fd->n_service : 1, sizeof(*f->services));
	if (!f->proto || !f->base || !f->guard || !f->services) {
		snprintf(err, SEVRPC_ERRMSG_MAX, "protoc-gen-sevrpc: out of memory");
		return -1;
	}
	for (char *g = f->guard; *g; g++)
		if (!((*g >= 'A' && *g <= 'Z') || (*g >= '0' && *g <= '9')))
			*g = '_';
	for (size_t s = 0; s < fd->n_service; s++) {
		f->n_services++;
		if (build_service(fd, f->base, fd->service[s], &f->services[s], err) != 0)
			return -1;
	}
	return 0;
}

static const FileDesc *find_file(const GenRequest *req, const char *name)
{
	for (size_t i = 0; i < req->n_proto_file; i++)
		if (req->proto_file[i]->name && strcmp(req->proto_file[i]->name, name) == 0)
			return req->proto_file[i];
	return NULL;
}

static GenFile *new_out(const char *base, const char *suffix, struct strbuf *text)
{
	GenFile *gf = malloc(sizeof(*gf));
	if (!gf)
		return NULL;
	google__protobuf__compiler__code_generator_response__file__init(gf);
	if (asprintf(&gf->name, "%s%s", base, suffix) < 0) {
		free(gf);
		return NULL;
	}
	gf->content = text->p; /* ownership moves to gf */
	text->p = NULL;
	text->len = text->cap = 0;
	return gf;
}

static int generate(const GenRequest *req, GenResponse *resp, char *err)
{
	for (size_t i = 0; i < req->n_file_to_generate; i++) {
		const FileDesc *fd = find_file(req, req->file_to_generate[i]);
		struct sevrpc_file f = { 0 };
		if (!fd) {
			snprintf(err, SEVRPC_ERRMSG_MAX, "%s: no descriptor in the request",
				 req->file_to_generate[i]);
			return -1;
		}
		if (fd->n_service == 0)
			continue;
		if (build_file(fd, &f, err) != 0) {
			sevrpc_file_free(&f);
			return -1;
		}
		struct strbuf t[4] = { { 0 } };
		static const char *const suffix[4] = { ".sevrpc-client.h", ".sevrpc-client.c",
						       ".sevrpc-agent.h", ".sevrpc-agent.c" };
		sevrpc_emit_client(&f, &t[0], &t[1]);
		sevrpc_emit_agent(&f, &t[2], &t[3]);
		int bad = 0;
		GenFile **files = realloc(resp->file, (resp->n_file + 4) * sizeof(*files));
		if (files)
			resp->file = files;
		for (int k = 0; k < 4; k++) {
			GenFile *gf = (files && !t[k].failed && t[k].p) ? new_out(f.base, suffix[k], &t[k]) : NULL;
			if (gf)
				resp->file[resp->n_file++] = gf;
			else
				bad = 1;
			sb_free(&t[k]);
		}
		sevrpc_file_free(&f);
		if (bad) {
			snprintf(err, SEVRPC_ERRMSG_MAX, "protoc-gen-sevrpc: out of memory");
			return -1;
		}
	}
	return 0;
}

static void response_free(GenResponse *resp)
{
	for (size_t i = 0; i < resp->n_file; i++) {
		free(resp->file[i]->name);
		free(resp->file[i]->content);
		free(resp->file[i]);
	}
	free(resp->file);
}

int main(void)
{
	size_t len = 0;
	uint8_t *in = read_all(stdin, &len);
	if (!in) {
		fprintf(stderr, "protoc-gen-sevrpc: cannot read the request from stdin\n");
		return 1;
	}
	GenRequest *req = google__protobuf__compiler__code_generator_request__unpack(NULL, len, in);
	free(in);
	if (!req) {
		fprintf(stderr, "protoc-gen-sevrpc: stdin is not a CodeGeneratorRequest\n");
		return 1;
	}

	GenResponse resp = GOOGLE__PROTOBUF__COMPILER__CODE_GENERATOR_RESPONSE__INIT;
	char err[SEVRPC_ERRMSG_MAX] = "";
	/* Nothing here depends on field presence, so proto3 `optional` is fine. */
	resp.has_supported_features = 1;
	resp.supported_features =
		GOOGLE__PROTOBUF__COMPILER__CODE_GENERATOR_RESPONSE__FEATURE__FEATURE_PROTO3_OPTIONAL;
	if (generate(req, &resp, err) != 0) {
		response_free(&resp);
		resp.file = NULL;
		resp.n_file = 0;
		resp.error = err;
	}
	google__protobuf__compiler__code_generator_request__free_unpacked(req, NULL);

	size_t outlen = google__protobuf__compiler__code_generator_response__get_packed_size(&resp);
	uint8_t *out = malloc(outlen ? outlen : 1);
	int rc = 1;
	if (out) {
		google__protobuf__compiler__code_generator_response__pack(&resp, out);
		rc = fwrite(out, 1, outlen, stdout) == outlen && fflush(stdout) == 0 ? 0 : 1;
	}
	free(out);
	if (resp.error == NULL)
		response_free(&resp);
	if (rc != 0)
		fprintf(stderr, "protoc-gen-sevrpc: cannot write the response: %s\n", strerror(errno));
	return rc;
}
