// SPDX-License-Identifier: GPL-2.0
/*
 * A nested guest that enumerates q35's ECAM window the way firmware and
 * ECAM-only guests do: a 32-bit read of the vendor/device ID of every
 * bus/device/function (65536 of them), counting the all-ones answers, then a
 * write to an absent function and a read back.  Booted by SeaBIOS (which
 * enables PCIEXBAR at 0xb0000000 and numbers the buses) as a multiboot
 * kernel; reports on COM1 and exits through isa-debug-exit (port 0xf4).
 */
#define ECAM 0xb0000000u

static inline void outb(unsigned short port, unsigned char v)
{
	asm volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline unsigned char inb(unsigned short port)
{
	unsigned char v;

	asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline unsigned long long rdtsc(void)
{
	unsigned int lo, hi;

	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((unsigned long long)hi << 32) | lo;
}

static void putch(char c)
{
	while (!(inb(0x3fd) & 0x20))
		;
	outb(0x3f8, c);
}

static void puts(const char *s)
{
	for (; *s; s++) {
		if (*s == '\n')
			putch('\r');
		putch(*s);
	}
}

static void puthex(unsigned int v, int digits)
{
	while (digits--)
		putch("0123456789abcdef"[(v >> (digits * 4)) & 15]);
}

static void putdec(unsigned long long v)
{
	char b[24];
	int i = 0;

	do {
		b[i++] = '0' + v % 10;
		v /= 10;
	} while (v);
	while (i)
		putch(b[--i]);
}

static volatile unsigned int *cfg(unsigned int bdf, unsigned int off)
{
	return (volatile unsigned int *)(ECAM + (bdf << 12) + off);
}

void main(void)
{
	unsigned int bdf, present = 0, ones = 0, v;
	unsigned long long t0, t1;

	puts("NESTED-INIT ecamscan\n");
	t0 = rdtsc();
	for (bdf = 0; bdf < 65536; bdf++) {
		v = *cfg(bdf, 0);
		if (v == 0xffffffff) {
			ones++;
			continue;
		}
		present++;
		puts("PCIDEV ");
		puthex(bdf >> 8, 2);
		putch(':');
		puthex((bdf >> 3) & 31, 2);
		putch('.');
		puthex(bdf & 7, 1);
		puts(" 0x");
		puthex(v & 0xffff, 4);
		puts(":0x");
		puthex(v >> 16, 4);
		puts("\n");
	}
	t1 = rdtsc();
	puts("CFG scan present=");
	putdec(present);
	puts(" allones=");
	putdec(ones);
	puts(" tsc_cycles=");
	putdec(t1 - t0);
	puts("\n");

	/* bus 3 does not exist: a write must vanish, reads must be all ones */
	*cfg(0x300, 0x10) = 0x12345678;
	puts("CFG absent 03:00.0 @0x10 after write: 0x");
	puthex(*cfg(0x300, 0x10), 8);
	puts(" @0x100: 0x");
	puthex(*cfg(0x300, 0x100), 8);
	puts(" @0xffc: 0x");
	puthex(*cfg(0x300, 0xffc), 8);
	puts("\n");

	puts("NESTED-DONE\n");
	/* stay alive a moment (no exits) so the outer guest can read KVM's stats */
	t0 = rdtsc();
	while (rdtsc() - t0 < 4000000000ull)
		;
	outb(0xf4, 0);		/* isa-debug-exit */
}
