#include "common/lock.h"

#include <stdio.h>
#include <stdlib.h>

#ifndef NDEBUG
#define LOCK_DEPTH_MAX 16
static __thread struct smb_mutex *held[LOCK_DEPTH_MAX];
static __thread int nheld;
#endif

void smb_mutex_init(struct smb_mutex *l, enum lock_rank rank, const char *name)
{
	pthread_mutex_init(&l->m, NULL);
	l->rank = (int)rank;
	l->name = name;
}

void smb_mutex_destroy(struct smb_mutex *l) { pthread_mutex_destroy(&l->m); }

void smb_mutex_lock(struct smb_mutex *l)
{
#ifndef NDEBUG
	for (int i = 0; i < nheld; i++) {
		if (held[i]->rank >= l->rank) {
			fprintf(stderr, "lock order violation: taking %s (rank %d) while holding %s (rank %d)\n",
				l->name, l->rank, held[i]->name, held[i]->rank);
			abort();
		}
	}
	if (nheld == LOCK_DEPTH_MAX) abort();
#endif
	pthread_mutex_lock(&l->m);
#ifndef NDEBUG
	held[nheld++] = l;
#endif
}

void smb_mutex_unlock(struct smb_mutex *l)
{
#ifndef NDEBUG
	int i;
	for (i = nheld - 1; i >= 0 && held[i] != l; i--) ;
	if (i < 0) {
		fprintf(stderr, "unlock of %s which this thread does not hold\n", l->name);
		abort();
	}
	for (; i < nheld - 1; i++) held[i] = held[i + 1];
	nheld--;
#endif
	pthread_mutex_unlock(&l->m);
}
