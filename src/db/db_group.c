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
 * answered only after the batch that holds it committed or failed. */
#include "config.h"

#include "db/db.h"
#include "util/limits.h"

void
db_group_submit(struct db_group *g, struct db *db, struct db_group_item *it)
{
	struct db_group_item *batch[LIMIT_DB_GROUP_MAX], **pp;
	int n;

	it->next = NULL;
	it->done = 0;
	pthread_mutex_lock(&g->lock);
	for (pp = &g->head; *pp; pp = &(*pp)->next)
		;
	*pp = it;
	while (!it->done) {
		if (g->leading) {
			pthread_cond_wait(&g->cond, &g->lock);
			continue;
		}
		/* Lead: take the queue in arrival order, skipping an item whose key is already taken (it goes in
		 * the next batch; the queue is never longer than the threads of the process). */
		g->leading = 1;
		n = 0;
		for (pp = &g->head; *pp && n < LIMIT_DB_GROUP_MAX;) {
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
		pthread_mutex_unlock(&g->lock);
		g->run(db, batch, n);
		pthread_mutex_lock(&g->lock);
		for (int i = 0; i < n; i++)
			batch[i]->done = 1;
		g->leading = 0;
		pthread_cond_broadcast(&g->cond);
	}
	pthread_mutex_unlock(&g->lock);
}
