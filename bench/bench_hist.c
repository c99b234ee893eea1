/* bench_hist.c - log-linear latency histograms (layout in bench.h). */
#include "bench.h"

uint64_t bench_hist_lower(int i)
{
	if (i < BENCH_HIST_LINEAR)
		return (uint64_t)i;
	int e = (i - BENCH_HIST_LINEAR) / 32 + 6;
	uint64_t sub = (uint64_t)((i - BENCH_HIST_LINEAR) % 32);
	return ((uint64_t)1 << e) + (sub << (e - BENCH_HIST_SUB_BITS));
}

void bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src)
{
	for (int i = 0; i < BENCH_HIST_BUCKETS; i++)
		dst->b[i] += src->b[i];
	dst->n += src->n;
}

double bench_hist_quantile(const struct bench_hist *h, double q)
{
	if (!h->n)
		return 0;
	uint64_t want = (uint64_t)(q * (double)h->n);
	if (want >= h->n)
		want = h->n - 1;
	uint64_t seen = 0;
	for (int i = 0; i < BENCH_HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen > want) {
			uint64_t lo = bench_hist_lower(i);
			uint64_t hi = i + 1 < BENCH_HIST_BUCKETS ? bench_hist_lower(i + 1) : lo;
			return i < BENCH_HIST_LINEAR ? (double)lo : ((double)lo + (double)hi) / 2;
		}
	}
	return (double)bench_hist_lower(BENCH_HIST_BUCKETS - 1);
}
