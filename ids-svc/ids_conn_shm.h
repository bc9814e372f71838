/*
 * ids_conn_shm.h — an ids_conn (ids_conn.h) over a shared-memory region instead of a socket.
 * Until ids_conn_open routes shm URIs here itself: `if (strncmp(uri, "shm", 3) == 0)
 * return ids_conn_open_shm(c, uri, timeout_ms);`.
 */
#ifndef SEVMON_IDS_CONN_SHM_H
#define SEVMON_IDS_CONN_SHM_H

#include "ids_conn.h"

/*
 * Attach to uri ("shm:///dev/shm/NAME" on the host of a guest with an ivshmem device
 * backed by that file, or between host processes; "shm+pci://BDF" in a guest) as side A
 * within timeout_ms (0: IDS_CONNECT_TIMEOUT_MS); the agent must be serving the region.
 * Afterwards use ids_conn_wait / ids_conn_close as for any ids_conn. Returns 0 or a
 * negative SEVMON_E*; on failure nothing is left open.
 */
int ids_conn_open_shm(struct ids_conn *c, const char *uri, int timeout_ms);

#endif
