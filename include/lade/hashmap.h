/* lade — a string-keyed hash map (open addressing), the one map type of the project.
 * Keys are copied; values are borrowed pointers the caller owns. */
#ifndef LADE_HASHMAP_H
#define LADE_HASHMAP_H

#include <stdbool.h>
#include <stddef.h>

struct lade_hashmap;

struct lade_hashmap *lade_hashmap_new(void);
/* Frees the map and its key copies; calls free_value on each value when not NULL. */
void lade_hashmap_free(struct lade_hashmap *m, void (*free_value)(void *));
/* Insert or replace; returns the previous value (or NULL). */
void *lade_hashmap_put(struct lade_hashmap *m, const char *key, void *value);
void *lade_hashmap_get(const struct lade_hashmap *m, const char *key);
/* Remove; returns the value (or NULL). */
void *lade_hashmap_remove(struct lade_hashmap *m, const char *key);
size_t lade_hashmap_size(const struct lade_hashmap *m);
/* Iterate: start with *pos = 0; returns false at the end. Order is unspecified: sort when the
 * order reaches an output. Removing the current key during iteration is allowed. */
bool lade_hashmap_next(const struct lade_hashmap *m, size_t *pos, const char **key, void **value);

#endif
