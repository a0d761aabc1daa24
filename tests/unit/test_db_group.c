/* test_db_group.c: unit tests of src/db/db_group.c (group commit) without a database: many threads submit
 * items, some with the same key, and the run callback checks the promises: one batch at a time, at most
 * LIMIT_DB_GROUP_MAX items, no key twice in a batch, every item run exactly once and only answered after
 * its batch ran, and batches that really group items under contention. */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "db/db.h"
#include "util/limits.h"
#include "check.h"

#define THREADS 16
#define PER_THREAD 400
#define KEYS 24           /* fewer keys than items in flight: clashes are certain */

struct item {
	struct db_group_item g;   /* first member */
	int                  runs;
	int                  answered_before_run;
};

static atomic_int running, overlaps, too_big, key_twice, batches, items_run, max_batch;

static void
run(struct db *db, struct db_group_item **items, int n)
{
	struct timespec pause = { 0, 20000 };   /* a commit's worth of time, so that others queue */

	(void)db;
	if (atomic_fetch_add(&running, 1) != 0)
		atomic_fetch_add(&overlaps, 1);
	if (n < 1 || n > LIMIT_DB_GROUP_MAX)
		atomic_fetch_add(&too_big, 1);
	for (int i = 0; i < n; i++) {
		struct item *it = (struct item *)(void *)items[i];

		for (int j = 0; j < i; j++)
			if (items[j]->key == items[i]->key)
				atomic_fetch_add(&key_twice, 1);
		if (it->g.state == DB_GROUP_DONE)
			it->answered_before_run++;
		it->runs++;
	}
	nanosleep(&pause, NULL);
	atomic_fetch_add(&batches, 1);
	atomic_fetch_add(&items_run, n);
	for (int m = atomic_load(&max_batch); n > m && !atomic_compare_exchange_weak(&max_batch, &m, n);)
		;
	atomic_fetch_sub(&running, 1);
}

static struct db_group group = DB_GROUP_INIT(run);
static atomic_int bad_items;

static void *
submitter(void *arg)
{
	int t = (int)(intptr_t)arg;

	for (int i = 0; i < PER_THREAD; i++) {
		struct item it;

		memset(&it, 0, sizeof(it));
		it.g.key = (t * PER_THREAD + i) % KEYS;
		db_group_submit(&group, NULL, &it.g);
		if (it.runs != 1 || it.answered_before_run || it.g.state != DB_GROUP_DONE)
			atomic_fetch_add(&bad_items, 1);
	}
	return NULL;
}

int
main(void)
{
	pthread_t th[THREADS];
	struct item lone;

	/* Alone, an item runs at once as a batch of one, by its own thread. */
	memset(&lone, 0, sizeof(lone));
	lone.g.key = 7;
	db_group_submit(&group, NULL, &lone.g);
	CHECK_INT(lone.runs, 1);
	CHECK_INT(atomic_load(&batches), 1);

	for (int t = 0; t < THREADS; t++)
		CHECK(pthread_create(&th[t], NULL, submitter, (void *)(intptr_t)t) == 0);
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	CHECK_INT(atomic_load(&bad_items), 0);
	CHECK_INT(atomic_load(&items_run), 1 + THREADS * PER_THREAD);
	CHECK_INT(atomic_load(&overlaps), 0);
	CHECK_INT(atomic_load(&too_big), 0);
	CHECK_INT(atomic_load(&key_twice), 0);
	/* Under contention the items really were grouped. */
	CHECK(atomic_load(&batches) < 1 + THREADS * PER_THREAD / 2);
	CHECK(atomic_load(&max_batch) > 2);
	/* The group is idle again: the next item leads at once. */
	CHECK(group.head == NULL && group.leading == 0);
	return CHECK_DONE("test_db_group");
}
