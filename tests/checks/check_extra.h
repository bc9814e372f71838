/*
 * check_extra.h — the rows a test build adds to the check registry (registry.c includes
 * this when built with -DCHECK_REGISTRY_EXTRA_H='"check_extra.h"'): proof that a new check
 * is its file plus one row, and shows up everywhere the registry is read.
 */
#ifndef SEVMON_TEST_CHECK_EXTRA_H
#define SEVMON_TEST_CHECK_EXTRA_H

#include "check.h"

extern const struct check_def check_release;
#define CHECK_REGISTRY_EXTRA &check_release,

#endif
