// SPDX-License-Identifier: GPL-2.0
/*
 * hang-guest - make the whole guest unresponsive, for the harness self-test.
 *
 * Turns off RT throttling and starts one SCHED_FIFO spinner at the highest
 * priority on every online CPU.  Nothing of lower priority runs again, the
 * guest-side timeout in runtest included, so only the host-side watchdog can
 * end the run: harness/selftest.cfg checks that it does, reports the test as
 * hung and goes on with the rest of the plan in a fresh boot.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
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

int main(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int fd = open("/proc/sys/kernel/sched_rt_runtime_us", O_WRONLY);

	if (fd < 0 || write(fd, "-1", 2) != 2) {
		perror("hang-guest: cannot disable RT throttling");
		return 1;
	}
	close(fd);
	printf("hang-guest: spinning on %ld CPUs\n", cpus);
	fflush(stdout);
	for (long cpu = 0; cpu < cpus; cpu++)
		if (fork() == 0)
			spin_on(cpu);
	while (wait(NULL) > 0)
		;
	return 1;	/* only reached if the spinners could not start */
}
