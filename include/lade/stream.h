/* lade — the byte sink every stage writes into (tar writer -> digest -> compressor -> digest ->
 * blob file). Implementations embed struct lade_stream as their first member. */
#ifndef LADE_STREAM_H
#define LADE_STREAM_H

#include <stddef.h>
#include "lade/error.h"

struct lade_stream {
	/* Consume len bytes; 0 or -1 with *err set. */
	int (*write)(struct lade_stream *s, const void *buf, size_t len, struct lade_error **err);
};

static inline int lade_stream_write(struct lade_stream *s, const void *buf, size_t len,
                                    struct lade_error **err)
{
	return s->write(s, buf, len, err);
}

#endif
