/*-------------------------------------------------------------------------
 *
 * maintenance_worker.h
 *	  The launcher and per-database maintenance workers: registration and
 *	  shared memory, called from _PG_init and the shmem hooks.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SDP_MAINTENANCE_WORKER_H
#define SDP_MAINTENANCE_WORKER_H

extern Size sdp_workers_shmem_size(void);
extern void sdp_workers_shmem_startup(void);
extern void sdp_workers_register_launcher(void);

#endif							/* SDP_MAINTENANCE_WORKER_H */
