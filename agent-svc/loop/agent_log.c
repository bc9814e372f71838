/*
 * agent_log.c — the loop's one log call: a line to the configured sink (cfg.log), or
 * nothing. Every file of the loop library logs through it, so it sits below them all.
 */
#include <stdarg.h>
#include <stdio.h>

#include "agent_loop_int.h"

void agent_logf(struct agent_loop *l, enum agent_log_level lv, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (!l->cfg.log)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	l->cfg.log(l->cfg.log_ctx, lv, line);
}
