// SPDX-License-Identifier: GPL-2.0
/*
 * Runs in the nested guest (no vIOMMU: DMA addresses are guest-physical).
 * edu (1234:11e8) and ivshmem (1af4:1110) are both assigned by the outer
 * guest's stock QEMU with vfio-pci.  edu's DMA engine is used to reach
 * ivshmem's BAR2 peer-to-peer:
 *
 *   step before:  BAR2 -> edu buffer -> BAR2 (round trip, decode on)
 *   step off:     ivshmem decode off; edu buffer -> BAR2 (must not land)
 *                 and BAR2 -> edu buffer (read side, checked through RAM)
 *   step on:      decode on again; BAR2 -> edu -> BAR2 (must land again)
 *
 * Prints "P2P step=... dir=... landed=yes|no" lines.
 *
 *   p2p EDU_BDF IVSHMEM_BDF
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define EDU_ID		0x00
#define EDU_SRC		0x80
#define EDU_DST		0x88
#define EDU_CNT		0x90
#define EDU_CMD		0x98
#define EDU_BUF		0x40000ULL
#define CMD_RUN		1
#define CMD_TO_PCI	2	/* buffer -> address */
#define N		256	/* QEMU 7.2 aborts on a transfer ending at the buffer's end */

static volatile uint8_t *edu, *bar2;
static uint64_t bar2_gpa;
static uint8_t *ram;
static uint64_t ram_gpa;
static const char *edu_bdf, *ivs_bdf;

static void die(const char *what)
{
	printf("P2P-ERROR %s: %s\n", what, strerror(errno));
	fflush(stdout);
	exit(1);
}

static int cfg_fd(const char *bdf)
{
	char p[128];
	int fd;

	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/config", bdf);
	fd = open(p, O_RDWR);
	if (fd < 0)
		die(p);
	return fd;
}

static uint16_t cmd_get(const char *bdf)
{
	uint16_t v;
	int fd = cfg_fd(bdf);

	if (pread(fd, &v, 2, 4) != 2)
		die("read PCI_COMMAND");
	close(fd);
	return v;
}

static void cmd_set(const char *bdf, uint16_t set, uint16_t clear)
{
	uint16_t v = cmd_get(bdf), n = (v | set) & ~clear;
	int fd = cfg_fd(bdf);

	if (pwrite(fd, &n, 2, 4) != 2)
		die("write PCI_COMMAND");
	close(fd);
	printf("P2P-CMD %s command 0x%04x -> 0x%04x (reads back 0x%04x)\n",
	       bdf, v, n, cmd_get(bdf));
}

static volatile uint8_t *map_bar(const char *bdf, int bar, size_t len)
{
	char p[128];
	void *m;
	int fd;

	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/resource%d", bdf, bar);
	fd = open(p, O_RDWR | O_SYNC);
	if (fd < 0)
		die(p);
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		die("mmap BAR");
	close(fd);
	return m;
}

static uint64_t bar_gpa(const char *bdf, int bar, uint64_t *size)
{
	char p[128];
	unsigned long long s, e, f;
	FILE *fp;
	int i;

	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/resource", bdf);
	fp = fopen(p, "r");
	if (!fp)
		die(p);
	for (i = 0; i <= bar; i++)
		if (fscanf(fp, "%llx %llx %llx", &s, &e, &f) != 3)
			die("parse resource");
	fclose(fp);
	*size = e - s + 1;
	return s;
}

static uint64_t virt_to_gpa(void *v)
{
	uint64_t ent;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0)
		die("pagemap");
	if (pread(fd, &ent, 8, ((uintptr_t)v / 4096) * 8) != 8)
		die("read pagemap");
	close(fd);
	if (!(ent & (1ULL << 63)) || !(ent & ((1ULL << 55) - 1)))
		return 0;
	return (ent & ((1ULL << 55) - 1)) * 4096 + ((uintptr_t)v & 4095);
}

static void w64(unsigned off, uint64_t v) { *(volatile uint64_t *)(edu + off) = v; }
static uint32_t r32(unsigned off) { return *(volatile uint32_t *)(edu + off); }

static int dma(uint64_t src, uint64_t dst, uint32_t cmd)
{
	struct timespec t0, t;

	w64(EDU_SRC, src);
	w64(EDU_DST, dst);
	w64(EDU_CNT, N);
	*(volatile uint32_t *)(edu + EDU_CMD) = cmd | CMD_RUN;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (!(r32(EDU_CMD) & CMD_RUN))
			return 0;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 20) {
			printf("P2P-ERROR DMA %#llx -> %#llx did not finish\n",
			       (unsigned long long)src, (unsigned long long)dst);
			return -1;
		}
		usleep(1000);
	}
}

/* BAR2 -> edu buffer */
static int dma_from(uint64_t a) { return dma(a, EDU_BUF, 0); }
/* edu buffer -> address */
static int dma_to(uint64_t a) { return dma(EDU_BUF, a, CMD_TO_PCI); }

static void fill(volatile uint8_t *p, uint8_t seed)
{
	for (int i = 0; i < N; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

static int same(volatile uint8_t *p, uint8_t seed)
{
	for (int i = 0; i < N; i++)
		if (p[i] != (uint8_t)(seed + i * 7))
			return 0;
	return 1;
}

static int all(volatile uint8_t *p, uint8_t v)
{
	for (int i = 0; i < N; i++)
		if (p[i] != v)
			return 0;
	return 1;
}

static void dump(const char *tag, volatile uint8_t *p)
{
	printf("P2P-DATA %s:", tag);
	for (int i = 0; i < 8; i++)
		printf(" %02x", p[i]);
	printf("\n");
}

static void result(const char *step, const char *dir, int landed, volatile uint8_t *p)
{
	dump(step, p);
	printf("P2P step=%s dir=%s landed=%s\n", step, dir, landed ? "yes" : "no");
	fflush(stdout);
}

/* The edu buffer's contents, read back through RAM (edu -> RAM). */
static int buf_is(uint8_t seed)
{
	memset(ram, 0xee, N);
	if (dma_to(ram_gpa))
		return 0;
	dump("edu-buffer-via-ram", ram);
	return same(ram, seed);
}

/* edu buffer := pattern seed, via RAM (RAM -> edu). */
static void buf_set(uint8_t seed)
{
	fill(ram, seed);
	dma_from(ram_gpa);
}

int main(int argc, char **argv)
{
	uint64_t size;

	if (argc != 3) {
		fprintf(stderr, "usage: p2p EDU_BDF IVSHMEM_BDF\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	edu_bdf = argv[1];
	ivs_bdf = argv[2];
	cmd_set(edu_bdf, 0x6, 0);	/* memory decode + bus master */
	cmd_set(ivs_bdf, 0x2, 0);	/* memory decode */
	edu = map_bar(edu_bdf, 0, 1 << 20);
	bar2_gpa = bar_gpa(ivs_bdf, 2, &size);
	bar2 = map_bar(ivs_bdf, 2, size);
	printf("P2P-INFO edu id 0x%08x, ivshmem BAR2 gpa 0x%llx size 0x%llx\n",
	       r32(EDU_ID), (unsigned long long)bar2_gpa, (unsigned long long)size);
	if ((r32(EDU_ID) & 0xff) != 0xed) {
		printf("P2P-ERROR edu BAR0 does not read edu's id\n");
		return 1;
	}
	ram = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, -1, 0);
	if (ram == MAP_FAILED)
		die("mmap ram");
	memset(ram, 0, 4096);
	ram_gpa = virt_to_gpa(ram);
	printf("P2P-INFO RAM page gpa 0x%llx\n", (unsigned long long)ram_gpa);

	/* Sanity: RAM -> edu -> RAM. */
	buf_set(0x11);
	result("ram-sanity", "edu->ram", buf_is(0x11), ram);

	/* Step 1: P2P with decode on. */
	fill(bar2 + 0x0000, 0xa0);
	memset((void *)(bar2 + 0x1000), 0x5a, N);
	dma_from(bar2_gpa + 0x0000);
	result("before", "bar2->edu", buf_is(0xa0), ram);
	dma_to(bar2_gpa + 0x1000);
	result("before", "edu->bar2", same(bar2 + 0x1000, 0xa0), bar2 + 0x1000);

	/* Step 2: decode off on ivshmem.  BAR2 is not touched through the mmap
	 * while it is off. */
	memset((void *)(bar2 + 0x2000), 0x5a, N);
	fill(bar2 + 0x3000, 0xb0);
	buf_set(0x22);
	cmd_set(ivs_bdf, 0, 0x2);
	dma_to(bar2_gpa + 0x2000);		/* edu buffer (0x22...) -> BAR2+0x2000 */
	dma_from(bar2_gpa + 0x3000);		/* BAR2+0x3000 (0xb0...) -> edu buffer */
	cmd_set(ivs_bdf, 0x2, 0);
	result("decode-off", "edu->bar2", !all(bar2 + 0x2000, 0x5a), bar2 + 0x2000);
	printf("P2P-INFO decode-off edu->bar2: target %s\n",
	       all(bar2 + 0x2000, 0x5a) ? "unchanged (old 0x5a)" :
	       same(bar2 + 0x2000, 0x22) ? "holds the DMA'd pattern" : "changed to something else");
	result("decode-off", "bar2->edu", buf_is(0xb0), ram);

	/* Step 3: decode on again. */
	memset((void *)(bar2 + 0x4000), 0x5a, N);
	fill(bar2 + 0x5000, 0xc0);
	dma_from(bar2_gpa + 0x5000);
	result("decode-on", "bar2->edu", buf_is(0xc0), ram);
	dma_to(bar2_gpa + 0x4000);
	result("decode-on", "edu->bar2", same(bar2 + 0x4000, 0xc0), bar2 + 0x4000);
	printf("P2P-END\n");
	return 0;
}
