/* compress_pool.h - compression of sealed batches on the further cores of
 * funnel.cores (issue 17, item 3).
 *
 *   data-plane core (funnel.cores[0])                 worker i (funnel.cores[i])
 *   seal ─▶ part FIFO tail ─▶ in[i]  (SPSC) ─────────▶ fnl_accum_compress()
 *   collect ◀─ out[i] (SPSC) ◀─────────────────────── (its own zstd context
 *     └▶ zdone; while the part FIFO's head is done:      and scratch buffer)
 *        seal_end, journal, producer queue
 *
 * Layout: one struct fnl_zpool allocated at start-up, holding per worker two
 * single-producer single-consumer rings of batch pointers (in: core -> worker,
 * out: worker -> core), a futex word the worker sleeps on, its compressor
 * and scratch buffer, and its counters (fnl_core_stats.zcore[i]).
 *
 * Invariants:
 * - each ring holds at most every slot of the batch pool (regular + big), a
 *   slot is in at most one place, so no ring is ever full; nothing is
 *   allocated, no lock is taken and no syscall is made per record (a futex
 *   wake per batch at most, only when the worker sleeps; an eventfd write per
 *   batch at most, only when the core sleeps);
 * - between submit and collect a batch belongs to its worker: the core does
 *   not read or write it (it is off the linger list and p->open);
 * - a partition's batches reach fnl_ingest_sealed() (journal SEALED, then
 *   the producer queue where sequences are given at first send) in seal
 *   order: each partition keeps its batches out for compression in a FIFO,
 *   and only a compressed head leaves it;
 * - a batch still with a worker when funneld dies is not SEALED in the
 *   journal, so its records (never sent, never reported) are taken again
 *   from the rings by the next daemon;
 * - when every worker already holds FNL_ZQ_INLINE_DEPTH batches, the core
 *   compresses the next batch itself (it goes through the same FIFO), so a
 *   slow or descheduled worker never stalls the core. 6 rather than 2: a
 *   worker that shares its CPU with clients gets it in time slices, and a
 *   deeper queue lets it compress more per slice (bench, 2 cores: a quarter
 *   to a third of the batches instead of a tenth to a fifth).
 */
#ifndef FNL_CORE_COMPRESS_POOL_H
#define FNL_CORE_COMPRESS_POOL_H

#define FNL_ZQ_INLINE_DEPTH 6           /* batches per worker before the core compresses itself */
#define FNL_ZW_SPIN_NS      (20 * 1000) /* a worker polls this long before it sleeps */

#endif
