/*
 * cmd_attest.h — the `sevmon attest` subcommand.
 *
 * argv[0] is the subcommand's own name ("attest"); argv[1] selects:
 *   verify REPORT --vcek DER --chain PEM [options]   verify a report (raw or hex file)
 *   sim-init DIR                                      make a simulated ARK/ASK/VCEK
 *   sim-report DIR --out FILE [options]               make a simulated signed report
 * Prints to stdout/stderr. Returns the process exit status: 0 accepted/done,
 * 1 rejected or failed, 2 usage error.
 */
#ifndef SEVMON_CMD_ATTEST_H
#define SEVMON_CMD_ATTEST_H

int cmd_attest(int argc, char **argv);

#endif
