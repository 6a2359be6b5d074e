/* Directory leases and changes made outside SMB (lease_dir_watch.c).
 *
 * A directory that holds a directory lease is watched with fanotify; a
 * change to it by any process other than smbkitd breaks its leases
 * (MS-SMB2 3.3.4.7: the object store indicates the break), so a caching
 * client never shows a stale listing.  SMB changes break them in lease.c. */
#ifndef SMBKIT_SERVER_LEASE_DIR_WATCH_H
#define SMBKIT_SERVER_LEASE_DIR_WATCH_H

#include <stdint.h>
#include <sys/types.h>

#include "server/server.h"

/* Holding no lock: watches the directory open o (o->fd, o->dev, o->ino)
 * for local changes, once per directory. */
void lease_dir_watch_add(struct smbd_open *o);

/* lease.c, holding no lock: breaks every directory lease on the directory
 * (dev, ino) to none, except the lease (guid, key) when they are given (the
 * client that made the change keeps its cache right itself). */
void lease_break_dir(dev_t dev, ino_t ino, const uint8_t *guid, const uint8_t *key);

#endif
