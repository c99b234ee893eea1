/* bench_proc.c - clocks, CPU pinning, CPU time of a process, and the TCP
 * sockets a process holds to the broker ports (its own via the fd number,
 * another one's through pidfd_getfd(), which needs ptrace rights over it:
 * fine for our own children). */
#include <dirent.h>
#include <errno.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include "bench.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

uint64_t bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double bench_tsc_calibrate(void)
{
	uint64_t n0 = bench_now_ns(), t0 = __rdtsc();
	struct timespec d = {.tv_nsec = 50 * 1000 * 1000};
	nanosleep(&d, NULL);
	uint64_t n1 = bench_now_ns(), t1 = __rdtsc();
	if (t1 <= t0)
		return 1.0;
	return (double)(n1 - n0) / (double)(t1 - t0);
}

int bench_pin(int cpu)
{
	if (cpu < 0)
		return 0;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) < 0 ? -errno : 0;
}

int bench_sched_batch(bool on)
{
	struct sched_param sp = {.sched_priority = 0};
	if (!on)
		return 0;
	return sched_setscheduler(0, SCHED_BATCH, &sp) < 0 ? -errno : 0;
}

double bench_ru_cpu_s(const struct rusage *u)
{
	return (double)u->ru_utime.tv_sec + (double)u->ru_utime.tv_usec / 1e6 +
	       (double)u->ru_stime.tv_sec + (double)u->ru_stime.tv_usec / 1e6;
}

double bench_proc_cpu_s(int pid)
{
	char path[64], buf[2048];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')'); /* the command name may hold spaces */
	if (!p)
		return -1;
	unsigned long ut = 0, st = 0;
	/* after ")": state(3) ... utime is field 14, stime 15 */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static bool port_wanted(int port, const int *ports, int nports)
{
	for (int i = 0; i < nports; i++)
		if (ports[i] == port)
			return true;
	return false;
}

static void sock_probe(int fd, const int *ports, int nports, struct bench_sock *out)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0)
		return;
	int port;
	if (ss.ss_family == AF_INET)
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	else if (ss.ss_family == AF_INET6)
		port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	else
		return;
	if (!port_wanted(port, ports, nports))
		return;
	struct tcp_info ti;
	socklen_t tl = sizeof(ti);
	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) < 0)
		return;
	out->conns++;
	out->bytes_sent += ti.tcpi_bytes_sent;
	out->bytes_recv += ti.tcpi_bytes_received;
}

int bench_sockets(int pid, const int *ports, int nports, struct bench_sock *out)
{
	memset(out, 0, sizeof(*out));
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", pid ? pid : (int)getpid());
	DIR *d = opendir(path);
	if (!d)
		return -errno;
	int pidfd = -1;
	if (pid) {
		pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
		if (pidfd < 0) {
			int e = -errno;
			closedir(d);
			return e;
		}
	}
	struct dirent *de;
	char lpath[330], link[64];
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(lpath, sizeof(lpath), "%s/%s", path, de->d_name);
		ssize_t n = readlink(lpath, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (strncmp(link, "socket:", 7) != 0)
			continue;
		int fd = atoi(de->d_name);
		if (pid) {
			int dup = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
			if (dup < 0)
				continue;
			sock_probe(dup, ports, nports, out);
			close(dup);
		} else {
			sock_probe(fd, ports, nports, out);
		}
	}
	closedir(d);
	if (pidfd >= 0)
		close(pidfd);
	return 0;
}
