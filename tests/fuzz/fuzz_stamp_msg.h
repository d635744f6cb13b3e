/*
 * fuzz_stamp_msg.h: the body shared by the message harnesses
 * (fuzz_stamp_info.c, fuzz_stamp_keygen.c, fuzz_stamp_commit.c), each of
 * which defines FUZZ_MAGIC first. Any bytes: stamp_msg_read() accepts
 * them with every record inside the input, or names a reason and an
 * offset inside it; never a crash, leak or undefined behaviour. An
 * accepted message is rebuilt record by record with the builder and must
 * come out byte for byte the same.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stamp-format/stamp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t copy[1 << 16];
	struct stamp_builder b;
	struct stamp_error err;
	struct stamp_msg m;
	struct stamp_cursor c;
	struct stamp_record r;
	size_t n;

	if (stamp_msg_read(&m, FUZZ_MAGIC, data, size, &err) != 0) {
		if (err.code == STAMP_OK || err.offset > size)
			abort();
		return 0;
	}
	if (m.signed_len > size)
		abort();
	/* A rebuild matches when the header is the 1.0 header. */
	if (m.records_off != STAMP_MSG_HEADER_LEN || data[5] != 0 ||
	    size > sizeof(copy))
		return 0;
	stamp_msg_begin(&b, copy, sizeof(copy), FUZZ_MAGIC);
	stamp_msg_records(&m, &c);
	while (stamp_next(&c, &r)) {
		if (r.value < data || r.value + r.length > data + size)
			abort();
		stamp_build_add(&b, r.type, r.flags, r.value, r.length);
	}
	if (stamp_msg_finish(&b, &n) != 0 || n != size ||
	    memcmp(copy, data, size) != 0)
		abort();
	return 0;
}
