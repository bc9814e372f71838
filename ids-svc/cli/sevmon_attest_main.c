/* sevmon-attest — `sevmon attest` as its own binary, for scripts and tests. */
#include "cmd_attest.h"

int main(int argc, char **argv)
{
	argv[0] = "attest";
	return cmd_attest(argc, argv);
}
