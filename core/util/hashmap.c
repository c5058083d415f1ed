/* lade — string-keyed hash map: open addressing, linear probing, tombstones (see
 * include/lade/hashmap.h). FNV-1a is enough: keys are paths and names from our own inputs,
 * and the table is never shrunk so that removal during iteration stays safe. */
#include <stdint.h>
#include <string.h>

#include "lade/hashmap.h"
#include "lade/util.h"

struct slot {
	char *key; /* NULL: empty; TOMBSTONE: deleted */
	void *value;
	uint64_t hash;
};

struct lade_hashmap {
	struct slot *slots;
	size_t cap;        /* power of two */
	size_t size;       /* live keys */
	size_t tombstones; /* deleted slots still breaking probe chains */
};

static char tombstone_;
#define TOMBSTONE (&tombstone_)

static bool slot_live(const struct slot *s)
{
	return s->key != NULL && s->key != TOMBSTONE;
}

static uint64_t hash_key(const char *key)
{
	uint64_t h = 14695981039346656037ULL;
	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		h ^= *p;
		h *= 1099511628211ULL;
	}
	return h;
}

struct lade_hashmap *lade_hashmap_new(void)
{
	struct lade_hashmap *m = xzalloc(sizeof(*m));
	m->cap = 16;
	m->slots = xcalloc(m->cap, sizeof(struct slot));
	return m;
}

void lade_hashmap_free(struct lade_hashmap *m, void (*free_value)(void *))
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->cap; i++) {
		struct slot *s = &m->slots[i];
		if (!slot_live(s))
			continue;
		if (free_value)
			free_value(s->value);
		free(s->key);
	}
	free(m->slots);
	free(m);
}

/* Index of the live slot holding key, or SIZE_MAX. */
static size_t find(const struct lade_hashmap *m, const char *key, uint64_t h)
{
	size_t mask = m->cap - 1;
	for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
		const struct slot *s = &m->slots[i];
		if (s->key == NULL)
			return SIZE_MAX;
		if (s->key != TOMBSTONE && s->hash == h && strcmp(s->key, key) == 0)
			return i;
	}
}

static void rehash(struct lade_hashmap *m, size_t new_cap)
{
	struct slot *old = m->slots;
	size_t old_cap = m->cap;
	m->slots = xcalloc(new_cap, sizeof(struct slot));
	m->cap = new_cap;
	m->tombstones = 0;
	size_t mask = new_cap - 1;
	for (size_t i = 0; i < old_cap; i++) {
		if (!slot_live(&old[i]))
			continue;
		size_t j = (size_t)old[i].hash & mask;
		while (m->slots[j].key != NULL)
			j = (j + 1) & mask;
		m->slots[j] = old[i];
	}
	free(old);
}

void *lade_hashmap_put(struct lade_hashmap *m, const char *key, void *value)
{
	uint64_t h = hash_key(key);
	size_t i = find(m, key, h);
	if (i != SIZE_MAX) {
		void *prev = m->slots[i].value;
		m->slots[i].value = value;
		return prev;
	}
	/* Keep probe chains short: at 70% of slots in use (tombstones count), grow; when most
	 * of that is tombstones, rehashing at the same size is enough. */
	if ((m->size + m->tombstones + 1) * 10 > m->cap * 7) {
		size_t cap = m->cap;
		if ((m->size + 1) * 10 > cap * 7 / 2)
			cap *= 2;
		rehash(m, cap);
	}
	size_t mask = m->cap - 1;
	for (i = (size_t)h & mask; slot_live(&m->slots[i]); i = (i + 1) & mask)
		;
	if (m->slots[i].key == TOMBSTONE)
		m->tombstones--;
	m->slots[i].key = xstrdup(key);
	m->slots[i].value = value;
	m->slots[i].hash = h;
	m->size++;
	return NULL;
}

void *lade_hashmap_get(const struct lade_hashmap *m, const char *key)
{
	size_t i = find(m, key, hash_key(key));
	return i == SIZE_MAX ? NULL : m->slots[i].value;
}

void *lade_hashmap_remove(struct lade_hashmap *m, const char *key)
{
	size_t i = find(m, key, hash_key(key));
	if (i == SIZE_MAX)
		return NULL;
	struct slot *s = &m->slots[i];
	void *value = s->value;
	free(s->key);
	s->key = TOMBSTONE;
	s->value = NULL;
	m->size--;
	m->tombstones++;
	return value;
}

size_t lade_hashmap_size(const struct lade_hashmap *m)
{
	return m->size;
}

bool lade_hashmap_next(const struct lade_hashmap *m, size_t *pos, const char **key, void **value)
{
	for (size_t i = *pos; i < m->cap; i++) {
		const struct slot *s = &m->slots[i];
		if (!slot_live(s))
			continue;
		*pos = i + 1;
		if (key)
			*key = s->key;
		if (value)
			*value = s->value;
		return true;
	}
	*pos = m->cap;
	return false;
}
