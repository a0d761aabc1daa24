/* db_group.c: group commit. Threads of one process that each have a write to make hand it to a queue; one
 * of them (the leader) takes what is queued and runs it as one batch, one statement and one commit, with
 * its own connection, while the others wait for their answers. Then the next waiting thread leads.
 *
 * Why: when many requests each commit a small write, the cost is per statement and per commit (executor
 * start-up, triggers per statement, the commit record and its flush, a round trip), not per row. Nobody
 * waits on purpose: a batch is whatever arrived while the previous one was committing, so a lone request
 * runs at once as a batch of one, and batches grow only under load, where they pay off.
 *
 * Items with the same key never share a batch (a statement may not change one row twice), and each is
 * answered only after the batch that holds it committed or failed. A waiter is woken once, by its own
 * condition: with its answer, or to lead the next batch (it is then the oldest waiter), so a batch costs
 * one wake-up per item, not one per waiting thread. */
#include "config.h"

#include "db/db.h"
#include "util/limits.h"

/* Take the next batch off the queue, in arrival order, skipping an item whose key is already taken (it
 * goes in a later batch; the queue is never longer than the threads of the process). Called locked. */
static int
take_batch(struct db_group *g, struct db_group_item **batch)
{
	struct db_group_item **pp = &g->head;
	int n = 0;

	while (*pp && n < LIMIT_DB_GROUP_MAX) {
		struct db_group_item *c = *pp;
		int clash = 0;

		for (int i = 0; i < n && !clash; i++)
			clash = batch[i]->key == c->key;
		if (clash) {
			pp = &c->next;
			continue;
		}
		*pp = c->next;
		batch[n++] = c;
	}
	return n;
}

void
db_group_submit(struct db_group *g, struct db *db, struct db_group_item *it)
{
	struct db_group_item *batch[LIMIT_DB_GROUP_MAX], **pp;
	int n, led = 0;

	it->next = NULL;
	it->state = DB_GROUP_WAITING;
	pthread_cond_init(&it->wake, NULL);
	pthread_mutex_lock(&g->lock);
	for (pp = &g->head; *pp; pp = &(*pp)->next)
		;
	*pp = it;
	if (!g->leading) {
		g->leading = 1;
		it->state = DB_GROUP_LEAD;
	}
	/* Each waiter sleeps on its own condition and is woken once: to lead, or with its answer. */
	while (it->state == DB_GROUP_WAITING)
		pthread_cond_wait(&it->wake, &g->lock);
	while (it->state == DB_GROUP_LEAD) {
		/* The leader's own item is at the head of the queue, so it is in the first batch. */
		led = 1;
		n = take_batch(g, batch);
		pthread_mutex_unlock(&g->lock);
		g->run(db, batch, n);
		pthread_mutex_lock(&g->lock);
		for (int i = 0; i < n; i++) {
			batch[i]->state = DB_GROUP_DONE;
			if (batch[i] != it)
				pthread_cond_signal(&batch[i]->wake);
		}
	}
	/* Hand the lead to the oldest waiter, which is at the head and so in its own first batch. */
	if (led && g->head) {
		g->head->state = DB_GROUP_LEAD;
		pthread_cond_signal(&g->head->wake);
	} else if (led)
		g->leading = 0;
	pthread_mutex_unlock(&g->lock);
	pthread_cond_destroy(&it->wake);
}
