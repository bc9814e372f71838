/*
 * fuzz_reply.c — the IDS's decode of what a hostile agent answers: every message of the
 * .proto unpacked by protobuf-c (the generated client stubs unpack each reply so), then
 * packed again (a decoded message must encode to no more than its bound) and freed.
 * Input: [u8 message index] then the encoded message.
 */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_pb_list.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum { N = sizeof fuzz_pb_descs / sizeof fuzz_pb_descs[0] };
	if (size < 1)
		return 0;
	const ProtobufCMessageDescriptor *d = fuzz_pb_descs[data[0] % N];
	ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, size - 1, data + 1);
	if (!m)
		return 0;
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(n ? n : 1);
	if (!buf)
		abort();
	if (protobuf_c_message_pack(m, buf) != n)
		abort();
	free(buf);
	protobuf_c_message_free_unpacked(m, NULL);
	return 0;
}
