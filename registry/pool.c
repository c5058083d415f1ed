/* lade — parallel transfers: a fixed set of worker threads, each with its own clone of the
 * client (its own libcurl handle and connection), taking blob numbers from a shared counter. */
#include <pthread.h>
#include <stdlib.h>

#include "registry-private.h"

struct pool {
	const struct client *proto;
	blob_job_fn fn;
	void *ctx;
	size_t n;
	pthread_mutex_t lock;
	size_t next;
	struct lade_error *err; /* the first failure */
};

static void *pool_worker(void *arg)
{
	struct pool *w = arg;
	_cleanup_(reg_client_freep) struct client *c = reg_client_clone(w->proto);
	for (;;) {
		pthread_mutex_lock(&w->lock);
		size_t i = w->err ? w->n : w->next++;
		pthread_mutex_unlock(&w->lock);
		if (i >= w->n)
			break;
		struct lade_error *e = NULL;
		if (w->fn(w->ctx, c, i, &e) < 0) {
			pthread_mutex_lock(&w->lock);
			if (!w->err)
				w->err = steal_pointer(&e);
			pthread_mutex_unlock(&w->lock);
			lade_error_free(e);
			break;
		}
	}
	return NULL;
}

int reg_run_pool(struct client *c, size_t n, unsigned jobs, blob_job_fn fn, void *ctx,
                 struct lade_error **err)
{
	if (jobs > n)
		jobs = (unsigned)n;
	if (jobs <= 1) {
		for (size_t i = 0; i < n; i++)
			if (fn(ctx, c, i, err) < 0)
				return -1;
		return 0;
	}
	struct pool w = {.proto = c, .fn = fn, .ctx = ctx, .n = n};
	pthread_mutex_init(&w.lock, NULL);
	/* as many workers as asked (the CLI bounds -j); a fixed array capped them silently */
	_cleanup_free_ pthread_t *tids = xcalloc(jobs, sizeof(*tids));
	unsigned started = 0;
	for (; started < jobs; started++) {
		int e = pthread_create(&tids[started], NULL, pool_worker, &w);
		if (e != 0) {
			if (started == 0) {
				pthread_mutex_destroy(&w.lock);
				return lade_error_set(err, e, "cannot start a transfer thread");
			}
			break; /* fewer workers still finish the job */
		}
	}
	for (unsigned i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	pthread_mutex_destroy(&w.lock);
	if (w.err) {
		lade_error_set(err, w.err->sys_errno, "%s", w.err->msg);
		lade_error_free(w.err);
		return -1;
	}
	return 0;
}
