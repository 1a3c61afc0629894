// SPDX-License-Identifier: GPL-2.0
/*
 * hang-guest - make the whole guest unresponsive, for the harness self-test.
 *
 * Turns off RT throttling and the per-CPU fair server (the deadline server
 * that since 6.12 gives normal tasks some time even under RT load), then
 * starts one SCHED_FIFO spinner at the highest priority on every online CPU.
 * Nothing of lower priority runs again, the guest-side timeout in runtest
 * included, so only the host-side watchdog can end the run:
 * harness/selftest.py checks that it does, that the test is reported as
 * hung, and that the plan goes on in a fresh boot.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void spin_on(int cpu)
{
	struct sched_param sp = { .sched_priority = 99 };
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) ||
	    sched_setscheduler(0, SCHED_FIFO, &sp)) {
		perror("hang-guest: cannot become a pinned SCHED_FIFO spinner");
		_exit(1);
	}
	for (;;)
		;
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);
	int ok = fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text);

	if (!ok)
		perror(path);
	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

int main(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	char path[128];

	if (write_file("/proc/sys/kernel/sched_rt_runtime_us", "-1"))
		return 1;
	for (long cpu = 0; cpu < cpus; cpu++) {
		snprintf(path, sizeof(path),
			 "/sys/kernel/debug/sched/fair_server/cpu%ld/runtime", cpu);
		if (write_file(path, "0"))
			return 1;
	}
	printf("hang-guest: spinning on %ld CPUs\n", cpus);
	fflush(stdout);
	for (long cpu = 0; cpu < cpus; cpu++)
		if (fork() == 0)
			spin_on(cpu);
	while (wait(NULL) > 0)
		;
	return 1;	/* only reached if the spinners could not start */
}
