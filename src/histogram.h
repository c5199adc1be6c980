/*-------------------------------------------------------------------------
 *
 * histogram.h
 *	  Log-scale latency histogram and percentile estimation.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SDP_HISTOGRAM_H
#define SDP_HISTOGRAM_H

/*
 * Bucket 0 holds executions under 1 microsecond.  Bucket b (1..256) holds
 * [2^((b-1)/8), 2^(b/8)) microseconds: eight buckets per doubling, from 1 us
 * to 2^32 us (about 71.6 minutes).  The last bucket holds everything longer.
 */
#define SDP_HIST_PER_OCTAVE		8
#define SDP_HIST_OCTAVES		32
#define SDP_HIST_BUCKETS		(SDP_HIST_PER_OCTAVE * SDP_HIST_OCTAVES + 2)

/*
 * A percentile estimate lies in the same bucket as the true value, so its
 * relative error is below 2^(1/8) - 1, about 9.05 %.  Estimates are also
 * clamped to the observed minimum and maximum.
 */
#define SDP_HIST_MAX_REL_ERROR	0.0905

typedef struct SdpHistogram
{
	uint64		counts[SDP_HIST_BUCKETS];
} SdpHistogram;

extern int	sdp_histogram_bucket(double elapsed_ms);
extern double sdp_histogram_percentile(const SdpHistogram *hist, double fraction,
									   double min_ms, double max_ms);
extern void sdp_histogram_add(SdpHistogram *into, const SdpHistogram *from);
extern double sdp_histogram_bucket_upper_ms(int bucket);

#endif							/* SDP_HISTOGRAM_H */
