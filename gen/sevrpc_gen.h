/*
 * sevrpc_gen.h — the model protoc-gen-sevrpc builds from a CodeGeneratorRequest, and
 * the emitters that turn it into C.
 *
 * The plugin runs at build time on protoc's output, so it may allocate freely; it
 * still rejects anything it does not understand with a message naming the method.
 * All strings in the model are owned by the model (sevrpc_file_free releases them).
 */
#ifndef SEVRPC_GEN_H
#define SEVRPC_GEN_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* Method ids travel as the RPC envelope's u16 method field. */
#define SEVRPC_METHOD_ID_MAX 65535u
/* Field number of the (sevmon.v1.method_id) option on MethodOptions. */
#define SEVRPC_METHOD_ID_FIELD 50001u

/* A growable text buffer; on allocation failure it sticks in a failed state. */
struct strbuf {
	char *p;
	size_t len, cap;
	int failed;
};
void sb_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_free(struct strbuf *b);

/* "ReadPhys" -> "read_phys"; "GetHTTPInfo" -> "get_httpinfo" (protobuf-c's rule). */
char *sevrpc_camel_to_lower(const char *s);
/* "read_phys" -> "READ_PHYS" (ASCII upper-case copy). */
char *sevrpc_upper(const char *s);
/* ".sevmon.v1.ReadResponse" -> "Sevmon__V1__ReadResponse" (protobuf-c type name). */
char *sevrpc_pbc_type(const char *full);
/* ".sevmon.v1.ReadResponse" -> "sevmon__v1__read_response" (protobuf-c function prefix). */
char *sevrpc_pbc_func(const char *full);
/* ".sevmon.v1.ReadResponse" -> "sevmon_v1_ReadResponse" (nanopb type name). */
char *sevrpc_nanopb_type(const char *full);

struct sevrpc_method {
	char *name;     /* "ReadPhys" */
	char *lower;    /* "read_phys" */
	char *upper;    /* "READ_PHYS" */
	uint16_t id;
	char *in_type;  /* fully qualified, ".sevmon.v1.ReadPhysRequest" */
	char *out_type;
};

struct sevrpc_service {
	char *name;     /* "Agent" */
	char *prefix;   /* "sevmon_agent": first package component + service in snake case */
	char *uprefix;  /* "SEVMON_AGENT" */
	size_t n_methods;
	struct sevrpc_method *methods; /* sorted by id */
};

struct sevrpc_file {
	char *proto;    /* "sevmon.proto" as protoc names it */
	char *base;     /* "sevmon": proto without ".proto", used for output and include names */
	char *guard;    /* "SEVMON": base as an identifier, upper case */
	size_t n_services;
	struct sevrpc_service *services;
};

void sevrpc_file_free(struct sevrpc_file *f);

/* Each emitter appends a header and a source file for every service in f. */
void sevrpc_emit_client(const struct sevrpc_file *f, struct strbuf *h, struct strbuf *c);
void sevrpc_emit_agent(const struct sevrpc_file *f, struct strbuf *h, struct strbuf *c);

#endif
