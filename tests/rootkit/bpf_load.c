/*
 * bpf_load.c — load one eBPF program into the kernel and keep it loaded: the test of the
 * bpf check. A kprobe-type program (r0 = 0; exit), named as the command line says, held
 * by this process's descriptor until it is killed (not attached: loaded is what puts it
 * in the kernel's program IDR). Static, for a busybox guest.
 * usage: rk_bpf_load NAME      prints "loaded id=N" and sleeps
 */
#include <linux/bpf.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct bpf_insn prog[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	static char log[4096];
	union bpf_attr a;
	memset(&a, 0, sizeof a);
	a.prog_type = BPF_PROG_TYPE_KPROBE;
	a.insns = (unsigned long)prog;
	a.insn_cnt = sizeof prog / sizeof prog[0];
	a.license = (unsigned long)"GPL";
	a.log_buf = (unsigned long)log;
	a.log_size = sizeof log;
	a.log_level = 1;
	snprintf(a.prog_name, sizeof a.prog_name, "%s", argc > 1 ? argv[1] : "rk_bpf");
	int fd = (int)syscall(__NR_bpf, BPF_PROG_LOAD, &a, sizeof a);
	if (fd < 0) {
		perror("bpf(BPF_PROG_LOAD)");
		fprintf(stderr, "%s\n", log);
		return 1;
	}
	struct bpf_prog_info info;
	memset(&info, 0, sizeof info);
	memset(&a, 0, sizeof a);
	a.info.bpf_fd = (unsigned)fd;
	a.info.info_len = sizeof info;
	a.info.info = (unsigned long)&info;
	if (syscall(__NR_bpf, BPF_OBJ_GET_INFO_BY_FD, &a, sizeof a) == 0)
		printf("loaded id=%u\n", info.id);
	fflush(stdout);
	for (;;)
		pause();
}
