/*-------------------------------------------------------------------------
 *
 * histogram.c
 *	  Latency histogram: which bucket an execution time falls in (hot path,
 *	  a frexp and three comparisons), and percentile estimates read back from
 *	  the bucket counts (read path only).
 *
 *	  Owns: the bucket layout and the error bound documented in histogram.h.
 *	  Does not own: where histograms live (profiler_store.c) or locking;
 *	  callers hold whatever protects the histogram they pass.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "histogram.h"

/*
 * 2^(k/8) for k = 1..7: the upper edges of the sub-buckets inside one
 * doubling, for a mantissa scaled to [1, 2).
 */
static const double sub_bucket_edges[SDP_HIST_PER_OCTAVE - 1] = {
	1.0905077326652577,
	1.1892071150027210,
	1.2968395546510096,
	1.4142135623730951,
	1.5422108254079407,
	1.6817928305074290,
	1.8340080864093424
};

/*
 * Bucket index for one execution.  Called once per tracked execution, so it
 * avoids log2(): frexp splits off the power of two and a three-step binary
 * search places the mantissa.
 */
int
sdp_histogram_bucket(double elapsed_ms)
{
	double		us = elapsed_ms * 1000.0;
	double		mantissa;
	int			exponent;
	int			sub;
	int			bucket;

	if (!(us >= 1.0))			/* also catches NaN */
		return 0;

	mantissa = frexp(us, &exponent) * 2.0;	/* us = mantissa * 2^(exponent-1) */
	exponent -= 1;
	if (exponent >= SDP_HIST_OCTAVES)
		return SDP_HIST_BUCKETS - 1;

	if (mantissa < sub_bucket_edges[3])
		sub = (mantissa < sub_bucket_edges[1])
			? (mantissa < sub_bucket_edges[0] ? 0 : 1)
			: (mantissa < sub_bucket_edges[2] ? 2 : 3);
	else
		sub = (mantissa < sub_bucket_edges[5])
			? (mantissa < sub_bucket_edges[4] ? 4 : 5)
			: (mantissa < sub_bucket_edges[6] ? 6 : 7);

	bucket = 1 + exponent * SDP_HIST_PER_OCTAVE + sub;
	return bucket;
}

/* Lower edge of a bucket in milliseconds (bucket 0 starts at zero). */
static double
bucket_lower_ms(int bucket)
{
	if (bucket <= 0)
		return 0.0;
	return pow(2.0, (double) (bucket - 1) / SDP_HIST_PER_OCTAVE) / 1000.0;
}

/* Upper edge of a bucket in milliseconds (the overflow bucket has none). */
double
sdp_histogram_bucket_upper_ms(int bucket)
{
	if (bucket >= SDP_HIST_BUCKETS - 1)
		return INFINITY;
	return pow(2.0, (double) bucket / SDP_HIST_PER_OCTAVE) / 1000.0;
}

/*
 * Estimate the given percentile (fraction in [0, 1]) of the executions
 * counted in hist.  The sample of that rank is located in its bucket, and
 * its position inside the bucket is interpolated geometrically (linearly for
 * bucket 0).  The result is clamped to [min_ms, max_ms], which are exact.
 * Returns NaN for an empty histogram.
 */
double
sdp_histogram_percentile(const SdpHistogram *hist, double fraction,
						 double min_ms, double max_ms)
{
	uint64		total = 0;
	uint64		seen = 0;
	double		rank;
	int			b;

	for (b = 0; b < SDP_HIST_BUCKETS; b++)
		total += hist->counts[b];
	if (total == 0)
		return NAN;

	/* rank of the wanted sample, 1-based ("nearest rank" definition) */
	rank = ceil(fraction * (double) total);
	if (rank < 1.0)
		rank = 1.0;

	for (b = 0; b < SDP_HIST_BUCKETS; b++)
	{
		uint64		count = hist->counts[b];
		double		within;
		double		lower;
		double		upper;
		double		estimate;

		if (count == 0 || (double) (seen + count) < rank)
		{
			seen += count;
			continue;
		}

		within = (rank - (double) seen) / (double) count;	/* (0, 1] */
		lower = Max(bucket_lower_ms(b), min_ms);
		upper = Min(sdp_histogram_bucket_upper_ms(b), max_ms);
		if (upper <= lower)
			estimate = lower;
		else if (b == 0 || lower <= 0.0)
			estimate = lower + (upper - lower) * within;
		else
			estimate = lower * pow(upper / lower, within);

		return Min(Max(estimate, min_ms), max_ms);
	}

	return max_ms;				/* not reached: rank <= total */
}

/* Add from's counts to into's.  The caller holds whatever protects into. */
void
sdp_histogram_add(SdpHistogram *into, const SdpHistogram *from)
{
	int			b;

	for (b = 0; b < SDP_HIST_BUCKETS; b++)
		into->counts[b] += from->counts[b];
}
