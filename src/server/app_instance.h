/* AppInstanceId (MS-SMB2 2.2.13.2.13, 3.3.5.9.13): an application that
 * moves between clients (a clustered service failing over, a virtual machine
 * migrating) names its opens with one GUID; an open of the same file, on the
 * same share, by another client naming that GUID replaces the old open,
 * which is closed without a break notification.  (SMB2_CREATE_APP_INSTANCE_
 * VERSION, 3.1.1 only, is not supported: every named open replaces.) */
#ifndef SMBKIT_SERVER_APP_INSTANCE_H
#define SMBKIT_SERVER_APP_INSTANCE_H

#include <stdint.h>

#include "server/server.h"

/* smb2_create, for the open o being built (o->inode set, not yet attached
 * to it; o->has_app_instance and o->app_instance_id set): closes the opens
 * it replaces.  A disconnected durable one is closed at once; a live one is
 * closed on its own loop thread, and the CREATE waits for that
 * (STATUS_PENDING; it runs again when the close is done).  STATUS_SUCCESS:
 * go on. */
uint32_t app_instance_close_previous(struct smb2_request *req, struct smbd_open *o);

#endif
