/*
 * prom_check.h — a checker for the Prometheus text exposition format 0.0.4, for tests:
 *   line     = "# HELP" SP name SP text | "# TYPE" SP name SP type | "#" comment | sample
 *   sample   = name [ "{" label *( "," label ) [","] "}" ] SP value [ SP timestamp ]
 *   label    = lname "=" DQUOTE *( char except \ " LF | "\\" | "\"" | "\n" ) DQUOTE
 *   value    = float | "+Inf" | "-Inf" | "NaN"
 * plus: every sample belongs to a family with a TYPE line before it (histograms through
 * _bucket/_sum/_count, and a bucket needs `le`), at most one TYPE and HELP per family,
 * and each histogram series' buckets are cumulative, end at le="+Inf", and that bucket
 * equals _count.
 */
#ifndef SEVMON_PROM_CHECK_H
#define SEVMON_PROM_CHECK_H

#include <stddef.h>

/* 0 if text conforms; -1 with a reason (line number first) in why. */
int prom_check(const char *text, char *why, size_t cap);

#endif
