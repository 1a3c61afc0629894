// SPDX-License-Identifier: GPL-2.0
/*
 * runtest - run one test in the guest under a hard time limit.
 *
 *   runtest NAME TIMEOUT_SECONDS COMMAND
 *
 * Prints "@@H BEGIN NAME", runs COMMAND through /bin/sh in a process group
 * of its own, and prints "@@H END NAME rc=N signal=N timeout=0|1 ms=N" when
 * it ends.  On timeout the whole group gets SIGKILL, so a test that forked
 * helpers leaves nothing behind.  The host runner (harness/console.py)
 * parses these lines; their format is documented there.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t timed_out;

static void on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static pid_t start_test(const char *command)
{
	pid_t pid = fork();

	if (pid == 0) {
		setpgid(0, 0);
		execl("/bin/sh", "sh", "-c", command, (char *)NULL);
		perror("runtest: exec /bin/sh");
		_exit(127);
	}
	if (pid > 0)
		setpgid(pid, pid);	/* also in the parent: no race with kill(-pid) */
	return pid;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	long long start;
	int status = 0, rc = 0, sig = 0;
	unsigned int timeout;
	pid_t pid;

	if (argc != 4) {
		fprintf(stderr, "usage: runtest NAME TIMEOUT_SECONDS COMMAND\n");
		return 2;
	}
	timeout = strtoul(argv[2], NULL, 10);
	sigaction(SIGALRM, &sa, NULL);

	printf("@@H BEGIN %s\n", argv[1]);
	fflush(stdout);
	start = now_ms();
	pid = start_test(argv[3]);
	if (pid < 0) {
		perror("runtest: fork");
		return 2;
	}
	alarm(timeout);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			break;
		if (timed_out)
			kill(-pid, SIGKILL);
	}
	alarm(0);
	/* Reap what the test left in its group, whether or not it timed out. */
	kill(-pid, SIGKILL);

	if (WIFEXITED(status))
		rc = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		sig = WTERMSIG(status);
	printf("@@H END %s rc=%d signal=%d timeout=%d ms=%lld\n",
	       argv[1], rc, sig, timed_out ? 1 : 0, now_ms() - start);
	fflush(stdout);
	return 0;
}
