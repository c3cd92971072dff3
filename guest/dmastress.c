// SPDX-License-Identifier: GPL-2.0
/*
 * dmastress - the guest's /init for the DMA test matrix.
 *
 * Built static against the base tree's tools/include/nolibc, for every
 * arch, with only a cross compiler.  It mounts the pseudo filesystems,
 * then on the virtio-blk disk /dev/vda writes a position-dependent
 * pattern from several writer processes (aligned and unaligned offsets,
 * sizes and buffers) and reads it back with O_DIRECT from several reader
 * processes at several block sizes (page-aligned and unaligned buffers,
 * guard bytes on both sides of each buffer); together the readers verify
 * every byte written.  A sampler process, at the lowest priority, watches
 * the swiotlb counters.  Slots in use must go back to 0 after the I/O and
 * after the benchmark.  It then binds the spare PCI device (QEMU's
 * pci-testdev) to dma_map_benchmark and runs it.  Every test prints one
 * KTAP line; the KTAP stream goes to the console and to the virtio port
 * named "verdict", which the host reads.  Then it powers the machine off.
 *
 * Parameters, from the kernel command line:
 *   dmastress.mode=swiotlb|iommu|none  what the I/O must have gone through
 *   dmastress.disk_mb=N                size of the region written (32)
 *   dmastress.passes=N                 write+verify passes (1)
 *   dmastress.bench_s=N                seconds per benchmark run (2)
 *   dmastress.granules=1,16,64         benchmark granules in pages (1)
 *   dmastress.threads=1,0              benchmark threads, 0 = all CPUs (0)
 *   dmastress.bench=0                  bind, but do not run the benchmark
 *   dmastress.expect_growth=1          the swiotlb must have grown (dynamic)
 *   dmastress.expect_return=1          ...and, once idle, given the growth
 *                                      back (implies expect_growth, a byte
 *                                      count that loongson3-virt's short
 *                                      command line needs): io_tlb_nslabs
 *                                      at its boot value
 *                                      within 5 idle periods (swiotlb.idle_ms,
 *                                      at most 10 s); a SKIP on a kernel
 *                                      without io_tlb_pools_freed
 *   dmastress.watchdog=N               after N seconds, fail the test
 *                                      guest_watchdog and dump the blocked
 *                                      tasks via sysrq 'w' (240; 0 = off)
 *
 * and for the benchmark (./patchtree bench), all off by default:
 *   dmastress.trace=1                  print the swiotlb size and use over
 *                                      the write+verify load, as "# trace",
 *                                      and over the wait of expect_return
 *   dmastress.tput=4096,65536          O_DIRECT write/read throughput runs
 *   dmastress.tput_mb=N                bytes per throughput run (16)
 *   dmastress.memcpy=1                 time a 4 KiB memcpy (the floor)
 *   dmastress.module=/x.ko             load this module (a benchmark of its
 *                                      own, which prints to the console)
 */

/* nolibc of v6.1 has no O_DIRECT; the values are per arch. */
#ifndef O_DIRECT
#if defined(__aarch64__) || defined(__arm__)
#define O_DIRECT	0200000
#elif defined(__mips__)
#define O_DIRECT	0x8000
#else
#define O_DIRECT	040000
#endif
#endif

#include <linux/ioctl.h>

#ifndef WIFEXITED
#define WIFEXITED(status)	(((status) & 0x7f) == 0)
#endif

#define SCHED_IDLE_POLICY	5	/* SCHED_IDLE, include/uapi/linux/sched.h */
#define AT_PAGESZ_TAG		6	/* AT_PAGESZ, include/uapi/linux/auxvec.h */

#define MAX_LIST	8
/*
 * A reader reads at most this many blocks (its budget); the readers'
 * regions follow each other around the disk region, so that together
 * they read every byte of it at least once.
 */
#define VERIFY_CAP_BLOCKS 4096
#define SECTOR		512
#define MAX_DISK_MB	1024	/* coverage map size */
#define GUARD		2048	/* guard bytes each side: one swiotlb slot */
#define BUF_ALIGN	65536	/* the largest page size of any arch here */
#define MAX_BS		262144
/* at most one sample every this many us: the sampler must stay cheap */
#define SAMPLE_US	1000

/* include/linux/map_benchmark.h of v6.1 (not uapi there) */
struct map_benchmark {
	uint64_t avg_map_100ns;
	uint64_t map_stddev;
	uint64_t avg_unmap_100ns;
	uint64_t unmap_stddev;
	uint32_t threads;
	uint32_t seconds;
	int32_t node;
	uint32_t dma_bits;
	uint32_t dma_dir;
	uint32_t dma_trans_ns;
	uint32_t granule;
	uint8_t expansion[76];
};
#define DMA_MAP_BENCHMARK	_IOWR('d', 1, struct map_benchmark)

/*
 * One reader or writer: block size and how far its buffer is from page
 * alignment.  Block sizes that are not a multiple of the page size give
 * unaligned disk offsets as well.
 */
struct geometry {
	unsigned int bs, skew;
};

static const struct geometry readers[] = {
	{ 512, 0 }, { 4096, 512 }, { 12800, 1024 },
	{ 65536, 0 }, { 262144, 512 },
};
#define NREADERS (sizeof(readers) / sizeof(readers[0]))

/* Writers, with the share of the region each writes (in 1/16). */
static const struct { struct geometry g; unsigned int share; } writers[] = {
	{ { 262144, 0 }, 9 }, { { 65536, 3584 }, 4 },
	{ { 12800, 1024 }, 2 }, { { 4096, 2560 }, 1 },
};
#define NWRITERS (sizeof(writers) / sizeof(writers[0]))

static char cmdline[4096];
static int verdict_fd = -1;
static int test_no, failures;
static char mode[16] = "swiotlb";
static long page_size = 4096;

/*
 * I/O buffer: static, since v6.1's nolibc has no mmap() on MIPS (no
 * 6-argument syscall there).  Each forked reader or writer has its own
 * copy.  Aligned to 64 KiB, so that a buffer at skew 0 is page aligned
 * on every page size (Loongson64 has 16 KiB pages); BUF_ALIGN bytes
 * before the buffer leave room for its front guard.
 */
static unsigned char iobuf[BUF_ALIGN + MAX_BS + BUF_ALIGN]
	__attribute__((aligned(BUF_ALIGN)));

/* The sampler's result, read back from the files it writes at the end. */
static long used_max, samples;

/*
 * The sampler's trace: time (ms from the start of the write+verify load,
 * trace_t0), slots, slots in use.
 */
#define TRACE_MAX	512
static struct { long ms, nslabs, used; } trace[TRACE_MAX];
static long trace_t0 = -1;

static void out(const char *s)
{
	write(1, s, strlen(s));
	if (verdict_fd >= 0)
		write(verdict_fd, s, strlen(s));
}

static char line[1024];

#define say(...) do {							\
	snprint(line, sizeof(line), __VA_ARGS__);			\
	out(line);							\
} while (0)

/* A tiny vsnprintf: nolibc of v6.1 has only fd-based printf. */
static void snprint(char *buf, size_t size, const char *fmt, ...)
{
	size_t n = 0;
	va_list ap;

	va_start(ap, fmt);
	while (*fmt && n + 24 < size) {
		char tmp[24], *s = tmp;
		int lng = 0;

		if (*fmt != '%') {
			buf[n++] = *fmt++;
			continue;
		}
		fmt++;
		while (*fmt == 'l') {
			lng++;
			fmt++;
		}
		switch (*fmt++) {
		case 's':
			s = va_arg(ap, char *);
			break;
		case 'd': {
			long long v = lng > 1 ? va_arg(ap, long long) :
				      lng ? va_arg(ap, long) : va_arg(ap, int);
			if (v < 0) {
				buf[n++] = '-';
				v = -v;
			}
			u64toa_r(v, tmp);
			break;
		}
		case 'u':
			u64toa_r(lng > 1 ? va_arg(ap, unsigned long long) :
				 lng ? va_arg(ap, unsigned long) :
				 va_arg(ap, unsigned int), tmp);
			break;
		case 'x':
			u64toh_r(lng > 1 ? va_arg(ap, unsigned long long) :
				 lng ? va_arg(ap, unsigned long) :
				 va_arg(ap, unsigned int), tmp);
			break;
		default:
			tmp[0] = '%';
			tmp[1] = 0;
		}
		while (*s && n + 1 < size)
			buf[n++] = *s++;
	}
	buf[n] = 0;
	va_end(ap);
}

static void result(int ok, const char *name, const char *why)
{
	test_no++;
	if (!ok)
		failures++;
	say("%s %d %s%s%s\n", ok ? "ok" : "not ok", test_no, name,
	    why && *why ? " # " : "", why ? why : "");
}

static long now_us(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return tv.tv_sec * 1000000L + tv.tv_usec;
}

static int read_file(const char *path, char *buf, int size)
{
	int fd = open(path, O_RDONLY, 0);
	int n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = 0;
	return n;
}

static int write_file_flags(const char *path, const char *s, int flags)
{
	int fd = open(path, O_WRONLY | flags, 0644);
	int n;

	if (fd < 0)
		return -1;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (int)strlen(s) ? 0 : -1;
}

static int write_file(const char *path, const char *s)
{
	return write_file_flags(path, s, 0);
}

static long read_long(const char *path)
{
	char buf[64];

	if (read_file(path, buf, sizeof(buf)) <= 0)
		return -1;
	return atol(buf);
}

/* Value of "dmastress.@key=" on the command line, or NULL. */
static const char *param(const char *key)
{
	static char val[128];
	char pat[64];
	const char *p;
	int i;

	snprint(pat, sizeof(pat), "dmastress.%s=", key);
	for (p = cmdline; *p; p++) {
		if ((p == cmdline || p[-1] == ' ') &&
		    !strncmp(p, pat, strlen(pat))) {
			p += strlen(pat);
			for (i = 0; p[i] && p[i] != ' ' && i < 127; i++)
				val[i] = p[i];
			val[i] = 0;
			return val;
		}
	}
	return NULL;
}

static long param_long(const char *key, long def)
{
	const char *v = param(key);

	return v ? atol(v) : def;
}

/* Parse "a,b,c" into @list; return the count. */
static int param_list(const char *key, const char *def, long *list)
{
	const char *v = param(key);
	int n = 0;

	if (!v)
		v = def;
	while (*v && n < MAX_LIST) {
		list[n++] = atol(v);
		while (*v && *v != ',')
			v++;
		if (*v == ',')
			v++;
	}
	return n;
}

/* Call @fn(name) for each entry of directory @path but . and .. */
static void for_each_entry(const char *path, void (*fn)(const char *, void *),
			   void *arg)
{
	char buf[2048];
	int fd = open(path, O_RDONLY | O_DIRECTORY, 0);
	int n, off;

	if (fd < 0)
		return;
	while ((n = getdents64(fd, (void *)buf, sizeof(buf))) > 0) {
		for (off = 0; off < n;) {
			struct linux_dirent64 *d = (void *)(buf + off);

			if (strcmp(d->d_name, ".") && strcmp(d->d_name, ".."))
				fn(d->d_name, arg);
			off += d->d_reclen;
		}
	}
	close(fd);
}

static void find_verdict_port(const char *name, void *arg)
{
	char path[128], val[64];

	snprint(path, sizeof(path), "/sys/class/virtio-ports/%s/name", name);
	if (read_file(path, val, sizeof(val)) > 0 && !strcmp(val, "verdict")) {
		snprint(path, sizeof(path), "/dev/%s", name);
		verdict_fd = open(path, O_WRONLY, 0);
	}
}

/* Append "name=value" for each file in the swiotlb debugfs directory. */
static void counter_entry(const char *name, void *arg)
{
	char *buf = arg, path[128], val[64];
	size_t n = strlen(buf);

	snprint(path, sizeof(path), "/sys/kernel/debug/swiotlb/%s", name);
	if (read_file(path, val, sizeof(val)) > 0 && n + 80 < 1000)
		snprint(buf + n, 1000 - n, " %s=%s", name, val);
}

static void show_counters(const char *when)
{
	char buf[1000] = "";

	for_each_entry("/sys/kernel/debug/swiotlb", counter_entry, buf);
	say("# swiotlb %s:%s\n", when, *buf ? buf : " (no debugfs directory)");
}

static int write_new_file(const char *path, const char *s)
{
	return write_file_flags(path, s, O_CREAT | O_TRUNC);
}

/*
 * Sleep on the guest's clock.  Not nolibc's sleep()/usleep(): they call
 * select() through my_syscall5(), which on MIPS o32 (v6.1) stores the
 * fifth argument at 16($sp) after moving $sp; when the compiler keeps the
 * timeout's address in $sp itself the kernel gets a wrong pointer, and
 * sleep(1) returned after 2 us.  On o32, nanosleep() is ENOSYS (no
 * COMPAT_32BIT_TIME in tinyconfig): clock_nanosleep_time64 there.
 */
static long sleep_us(long us)
{
#ifdef __NR_clock_nanosleep_time64
	/* o32: time64 (tinyconfig has no COMPAT_32BIT_TIME: no nanosleep) */
	struct { int64_t tv_sec, tv_nsec; } ts = { us / 1000000,
						  (us % 1000000) * 1000 };

	return my_syscall4(__NR_clock_nanosleep_time64, 1 /* MONOTONIC */, 0,
			   &ts, NULL);
#else
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	return my_syscall2(__NR_nanosleep, &ts, NULL);
#endif
}

static int contains(const char *s, const char *word)
{
	size_t n = strlen(word);

	for (; *s; s++)
		if (!strncmp(s, word, n))
			return 1;
	return 0;
}

/* The page size, from the auxiliary vector (nolibc has no getauxval). */
static long auxv_page_size(void)
{
	unsigned long v[64];
	int n, i, fd = open("/proc/self/auxv", O_RDONLY, 0);

	if (fd < 0)
		return -1;
	n = read(fd, v, sizeof(v)) / (int)sizeof(v[0]);
	close(fd);
	for (i = 0; i + 1 < n; i += 2)
		if (v[i] == AT_PAGESZ_TAG)
			return v[i + 1];
	return -1;
}

static inline uint64_t pattern(uint64_t off, unsigned int pass)
{
	return (off * 0x9e3779b97f4a7c15ULL) ^
	       ((pass + 1) * 0xd6e8feb86659fd93ULL) ^ (off << 17);
}

static inline uint64_t guard_word(int i)
{
	return 0x5c5c5c5c5c5c5c5cULL ^ ((uint64_t)i * 0x9e3779b97f4a7c15ULL);
}

#define GUARD_WORDS	(GUARD / 8)

/*
 * The buffer of a geometry, with GUARD bytes in front of it and after
 * it (its size this time: @len), filled with the guard pattern.  All of
 * it is 8-byte aligned (skews and lengths are multiples of 512).
 */
static unsigned char *guarded_buf(const struct geometry *g, size_t len)
{
	unsigned char *buf = iobuf + BUF_ALIGN + g->skew;
	uint64_t *front = (uint64_t *)(buf - GUARD), *back = (uint64_t *)(buf + len);
	int i;

	if (g->skew + len + GUARD > sizeof(iobuf) - BUF_ALIGN)
		return NULL;
	for (i = 0; i < GUARD_WORDS; i++) {
		front[i] = guard_word(i);
		back[i] = guard_word(i + GUARD_WORDS);
	}
	return buf;
}

/* NULL if the guards around @buf (of @len bytes) are intact, else which. */
static const char *guards_broken(const unsigned char *buf, size_t len)
{
	const uint64_t *front = (const uint64_t *)(buf - GUARD);
	const uint64_t *back = (const uint64_t *)(buf + len);
	int i;

	for (i = 0; i < GUARD_WORDS; i++)
		if (front[i] != guard_word(i))
			return "before";
	for (i = 0; i < GUARD_WORDS; i++)
		if (back[i] != guard_word(i + GUARD_WORDS))
			return "after";
	return NULL;
}

/*
 * One process's share of the region [0, @bytes): @len bytes from @start,
 * wrapping at the end, in blocks of @g->bs (shorter at the end of the
 * region and of the share).  Writers write the pattern of @pass, readers
 * read it back and verify every word.  Both check the guards around the
 * buffer after each block.  Return the bytes done; @why says what failed.
 */
static uint64_t span_io(int wr, const struct geometry *g, uint64_t start,
			uint64_t len, uint64_t bytes, unsigned int pass,
			char *why, size_t whysize)
{
	uint64_t off = start, done = 0, i, bad = 0;
	const char *who = wr ? "writer" : "reader";
	int fd = open("/dev/vda", (wr ? O_WRONLY : O_RDONLY) | O_DIRECT, 0);
	const char *side;
	unsigned char *buf = NULL;
	size_t last = 0;

	if (fd < 0) {
		snprint(why, whysize, "%s bs=%u: open /dev/vda failed", who,
			g->bs);
		return 0;
	}
	if (lseek(fd, off, SEEK_SET) != (off_t)off) {
		snprint(why, whysize, "%s bs=%u: lseek failed", who, g->bs);
		close(fd);
		return 0;
	}
	while (done < len) {
		size_t n = g->bs;

		if (n > bytes - off)
			n = bytes - off;
		if (n > len - done)
			n = len - done;
		/* the guards stay as they are unless clobbered (a failure) */
		if (n != last)
			buf = guarded_buf(g, n);
		last = n;
		if (!buf) {
			snprint(why, whysize, "%s bs=%u: buffer too small", who,
				g->bs);
			break;
		}
		if (wr) {
			for (i = 0; i < n; i += 8) {
				uint64_t v = pattern(off + i, pass);

				memcpy(buf + i, &v, 8);
			}
		} else {
			memset(buf, 0xa5, n);
		}
		if ((wr ? write(fd, buf, n) : read(fd, buf, n)) != (ssize_t)n) {
			snprint(why, whysize, "%s bs=%u: %s at %lu failed", who,
				g->bs, wr ? "write" : "read", (long)off);
			break;
		}
		side = guards_broken(buf, n);
		if (side) {
			snprint(why, whysize,
				"%s bs=%u skew=%u: guard %s the buffer clobbered by the %s at offset %lu (%lu bytes)",
				who, g->bs, g->skew, side,
				wr ? "write" : "read", (long)off, (long)n);
			break;
		}
		for (i = 0; !wr && i < n; i += 8) {
			uint64_t v;

			memcpy(&v, buf + i, 8);
			if (v != pattern(off + i, pass) && bad++ < 4)
				say("# reader bs=%u skew=%u: mismatch at byte %lu\n",
				    g->bs, g->skew, (long)(off + i));
		}
		if (bad) {
			snprint(why, whysize,
				"reader bs=%u skew=%u: %lu bad words from offset %lu",
				g->bs, g->skew, (long)bad, (long)off);
			break;
		}
		done += n;
		off += n;
		if (off == bytes) {
			off = 0;
			if (lseek(fd, 0, SEEK_SET) != 0) {
				snprint(why, whysize, "%s: lseek failed", who);
				break;
			}
		}
	}
	if (wr && fsync(fd) && done == len) {
		snprint(why, whysize, "writer bs=%u: fsync failed", g->bs);
		done = 0;
	}
	close(fd);
	return done;
}

/* Where a pass starts: rotated, so that passes move every share. */
static uint64_t pass_start(uint64_t bytes, unsigned int pass, int parts)
{
	return (bytes / parts * pass) % bytes / SECTOR * SECTOR;
}

/* Child: report "done" and why it failed in /io.<name>, exit 0 if all done. */
static void child_report(const char *name, uint64_t done, uint64_t len,
			 const char *why)
{
	char path[64], buf[200];

	snprint(path, sizeof(path), "/io.%s", name);
	snprint(buf, sizeof(buf), "%lu %s", (long)done, why);
	write_new_file(path, buf);
	exit(done == len && !*why ? 0 : 1);
}

/* Read back what child_report() left: bytes done, and the reason. */
static long child_result(const char *name, char *why, size_t whysize)
{
	char path[64], buf[200], *p;
	long done;

	snprint(path, sizeof(path), "/io.%s", name);
	if (read_file(path, buf, sizeof(buf)) <= 0) {
		snprint(why, whysize, "%s left no result", name);
		return -1;
	}
	unlink(path);
	done = atol(buf);
	p = strchr(buf, ' ');
	if (p && p[1] && !*why)
		snprint(why, whysize, "%s", p + 1);
	return done;
}

static int wait_ok(int pid)
{
	int status;

	return pid > 0 && waitpid(pid, &status, 0) == pid &&
	       WIFEXITED(status) && !WEXITSTATUS(status);
}

/* The writers, each its own share (rotated by pass), at the same time. */
static int write_pattern(uint64_t bytes, unsigned int pass, char *why)
{
	uint64_t start = pass_start(bytes, pass, NWRITERS), len[NWRITERS];
	uint64_t rest = bytes;
	int w, pid[NWRITERS], ok = 1;
	char name[32];

	for (w = 0; w < (int)NWRITERS; w++) {
		len[w] = w == NWRITERS - 1 ? rest :
			 bytes / 16 * writers[w].share / SECTOR * SECTOR;
		rest -= len[w];
	}
	for (w = 0; w < (int)NWRITERS; w++) {
		pid[w] = fork();
		if (pid[w] == 0) {
			char err[160] = "";
			uint64_t done = span_io(1, &writers[w].g, start, len[w],
						bytes, pass, err, sizeof(err));

			snprint(name, sizeof(name), "w%d", w);
			child_report(name, done, len[w], err);
		}
		start = (start + len[w]) % bytes;
	}
	for (w = 0; w < (int)NWRITERS; w++) {
		snprint(name, sizeof(name), "w%d", w);
		if (!wait_ok(pid[w]))
			ok = 0;
		if (child_result(name, why, 128) != (long)len[w])
			ok = 0;
		if (!ok && !*why)
			snprint(why, 128, "writer %d failed", w);
	}
	return ok;
}

/*
 * Coverage of the region by what the readers verified: one bit per
 * sector.  Return the first sector no reader verified, or -1.
 */
static unsigned char covered[(MAX_DISK_MB << 20) / SECTOR / 8];

static void cover(uint64_t start, uint64_t len, uint64_t bytes)
{
	uint64_t s, n = bytes / SECTOR;

	for (s = start / SECTOR; len >= SECTOR; len -= SECTOR, s++) {
		if (s == n)
			s = 0;
		covered[s / 8] |= 1 << (s % 8);
	}
}

static long first_uncovered(uint64_t bytes, long *end)
{
	long s, n = bytes / SECTOR;

	for (s = 0; s < n; s++)
		if (!(covered[s / 8] & (1 << (s % 8)))) {
			for (*end = s; *end < n &&
			     !(covered[*end / 8] & (1 << (*end % 8))); (*end)++)
				;
			return s;
		}
	return -1;
}

/*
 * Child: sample io_tlb_used until the file /sampler.stop appears, then
 * leave the peak and the sample count in /sampler.out (the initramfs is
 * writable; nolibc of v6.1 has neither pipes nor shared mappings
 * everywhere).  It runs as SCHED_IDLE, so it only gets the CPU when the
 * writers and readers wait for their I/O (when slots are held), and takes
 * at most one sample every SAMPLE_US: a sample (open, read, close of a
 * debugfs file) costs tens of us on MIPS, where one vCPU at SCHED_OTHER
 * took 1.65 million of them and spent most of a 158 s run on it.
 * Between samples it yields rather than sleeps: on MIPS (1 vCPU,
 * -icount) a guest that keeps going idle for a timer ran the write+verify
 * in 156 s instead of 7.
 */
static void sampler(void)
{
	long used, max = 0, n = 0, t0 = trace_t0 >= 0 ? trace_t0 : now_us();
	long t, last = -SAMPLE_US, ms;
	long step = 1, ntrace = 0, prio = 0;
	int tracing = param_long("trace", 0), i;
	struct stat st;
	char buf[64];
	int fd;

	t = my_syscall3(__NR_sched_setscheduler, 0, SCHED_IDLE_POLICY, &prio);
	if (t)
		say("# sampler: SCHED_IDLE refused (%ld), at normal priority\n",
		    t);
	for (;;) {
		t = now_us();
		if (t - last < SAMPLE_US) {
			sched_yield();
			continue;
		}
		last = t;
		/* at least one sample, however soon it is told to stop */
		if (n && stat("/sampler.stop", &st) == 0)
			break;
		used = read_long("/sys/kernel/debug/swiotlb/io_tlb_used");
		if (used > max)
			max = used;
		n++;
		ms = (t - t0) / 1000;
		if (tracing && (!ntrace || ms >= trace[ntrace - 1].ms + step)) {
			if (ntrace == TRACE_MAX) {
				/* full: keep every other sample, halve the rate */
				for (i = 0; i < TRACE_MAX / 2; i++)
					trace[i] = trace[2 * i];
				ntrace = TRACE_MAX / 2;
				step *= 2;
			}
			trace[ntrace].ms = ms;
			trace[ntrace].nslabs =
				read_long("/sys/kernel/debug/swiotlb/io_tlb_nslabs");
			trace[ntrace++].used = used;
		}
	}
	snprint(buf, sizeof(buf), "%ld %ld\n", max, n);
	write_new_file("/sampler.out", buf);
	if (ntrace) {
		fd = open("/sampler.trace", O_WRONLY | O_CREAT | O_TRUNC, 0644);
		write(fd, trace, ntrace * sizeof(trace[0]));
		close(fd);
	}
	exit(0);
}

/* Print the sampler's trace, if it left one. */
static void show_trace(void)
{
	int fd = open("/sampler.trace", O_RDONLY, 0);
	int n, i;

	if (fd < 0)
		return;
	n = read(fd, trace, sizeof(trace)) / (int)sizeof(trace[0]);
	close(fd);
	unlink("/sampler.trace");
	say("# trace: ms slots used (%d samples)\n", n);
	for (i = 0; i < n; i++)
		say("# trace %ld %ld %ld\n", trace[i].ms, trace[i].nslabs,
		    trace[i].used);
}

static void sampler_stop(int pid)
{
	char buf[64], *p;
	int status;

	close(open("/sampler.stop", O_WRONLY | O_CREAT, 0644));
	if (pid > 0)
		waitpid(pid, &status, 0);
	used_max = samples = -1;
	if (read_file("/sampler.out", buf, sizeof(buf)) > 0) {
		used_max = atol(buf);
		p = strchr(buf, ' ');
		samples = p ? atol(p + 1) : 0;
	}
	unlink("/sampler.stop");
	unlink("/sampler.out");
}

/*
 * The readers of one pass: reader r reads budget[r] bytes from where
 * reader r-1 stopped (the first from a start rotated by pass), wrapping
 * around, so that together they cover the whole region.
 */
static int verify_pattern(uint64_t bytes, unsigned int pass, char *why)
{
	uint64_t budget[NREADERS], sum = 0, start[NREADERS];
	uint64_t s = pass_start(bytes, pass, NREADERS);
	int r, pid[NREADERS], ok = 1;
	long done, end, first;
	char name[32];

	for (r = 0; r < (int)NREADERS; r++) {
		budget[r] = (uint64_t)readers[r].bs * VERIFY_CAP_BLOCKS;
		if (budget[r] > bytes)
			budget[r] = bytes;
		sum += budget[r];
	}
	/* a large region: the largest blocks read what the others cannot */
	if (sum < bytes)
		budget[NREADERS - 1] += bytes - sum;
	for (r = 0; r < (int)NREADERS; r++) {
		start[r] = s;
		pid[r] = fork();
		if (pid[r] == 0) {
			char err[160] = "";

			done = span_io(0, &readers[r], s, budget[r], bytes,
				       pass, err, sizeof(err));
			snprint(name, sizeof(name), "r%d", r);
			child_report(name, done, budget[r], err);
		}
		s = (s + budget[r]) % bytes;
	}
	memset(covered, 0, sizeof(covered));
	for (r = 0; r < (int)NREADERS; r++) {
		snprint(name, sizeof(name), "r%d", r);
		if (!wait_ok(pid[r]))
			ok = 0;
		done = child_result(name, why, 128);
		if (done > 0)
			cover(start[r], done, bytes);
		if (!ok && !*why)
			snprint(why, 128, "reader %d (bs=%u) failed", r,
				readers[r].bs);
	}
	first = first_uncovered(bytes, &end);
	if (first >= 0) {
		if (!*why)
			snprint(why, 128,
				"bytes %lu-%lu were verified by no reader",
				first * SECTOR, end * SECTOR - 1);
		ok = 0;
	}
	return ok;
}

static void test_rw(void)
{
	uint64_t bytes = (uint64_t)param_long("disk_mb", 32) << 20;
	int passes = param_long("passes", 1);
	char why[128] = "";
	long t0 = now_us();
	unsigned int pass;
	int ok = 1, spid;

	if (bytes == 0 || bytes > ((uint64_t)MAX_DISK_MB << 20)) {
		result(0, "write_verify_o_direct", "dmastress.disk_mb out of range");
		return;
	}
	trace_t0 = now_us();
	spid = fork();
	if (spid == 0)
		sampler();

	for (pass = 0; pass < (unsigned int)passes && ok; pass++)
		ok = write_pattern(bytes, pass, why) &&
		     verify_pattern(bytes, pass, why);
	sampler_stop(spid);
	show_trace();
	say("# write+verify: %lu MiB x %d passes, %d readers, %ld ms\n",
	    (long)(bytes >> 20), passes, (int)NREADERS,
	    (now_us() - t0) / 1000);
	result(ok, "write_verify_o_direct", why);
}

/*
 * The skew-0 buffers must really be page aligned, the others not (at
 * least one writer and several readers are off page alignment).
 */
static int misaligned(const char *who, const struct geometry *g, char *why)
{
	unsigned long a = (unsigned long)(iobuf + BUF_ALIGN + g->skew);

	if ((a % page_size == 0) == (g->skew == 0))
		return 0;
	snprint(why, 128, "%s bs=%u skew=%u: buffer %lx %s page aligned (page size %ld)",
		who, g->bs, g->skew, a, g->skew ? "is" : "is not", page_size);
	return 1;
}

static void test_alignment(void)
{
	char why[128] = "";
	unsigned int r;

	page_size = auxv_page_size();
	say("# page size %ld, buffers at %lx + skew\n", page_size,
	    (long)(iobuf + BUF_ALIGN));
	if (page_size <= 0 || page_size > BUF_ALIGN)
		snprint(why, sizeof(why), "page size %ld not handled",
			page_size);
	for (r = 0; !*why && r < NREADERS; r++)
		misaligned("reader", &readers[r], why);
	for (r = 0; !*why && r < NWRITERS; r++)
		misaligned("writer", &writers[r].g, why);
	result(!*why, "buffers_page_aligned", why);
}

#define SWIOTLB_DIR "/sys/kernel/debug/swiotlb/"

/*
 * No streaming mapping is held at idle: the verdict port's virtio-serial
 * device bypasses the DMA API, the vrings are coherent allocations, so
 * slots in use must go back to 0 once the I/O is done (unmaps may lag
 * the completion a little: a few seconds' grace).
 */
static void slots_released(const char *when, const char *what)
{
	long used = read_long(SWIOTLB_DIR "io_tlb_used"), t0 = now_us(), ms;
	char why[128] = "", name[64];

	snprint(name, sizeof(name), "swiotlb_slots_released_%s", when);
	if (used < 0) {
		result(1, name, "SKIP no " SWIOTLB_DIR "io_tlb_used");
		return;
	}
	while (used != 0 && now_us() - t0 < 5000000) {
		sleep_us(100000);
		used = read_long(SWIOTLB_DIR "io_tlb_used");
	}
	ms = (now_us() - t0) / 1000;
	say("# slots in use %s: %ld (settled for %ld ms)\n", when,
	    used, ms);
	if (used)
		snprint(why, sizeof(why),
			"io_tlb_used is %ld, not 0, %ld ms after the %s", used,
			ms, what);
	result(!used, name, why);
}

static void test_slots_after_io(void)
{
	slots_released("after_io", "I/O");
}

static void test_slots_after_bench(void)
{
	slots_released("after_bench", "benchmark");
}

/* The IOMMU group of the disk's PCI device, and its domain type. */
static void test_iommu(void)
{
	char why[160] = "", link[256], rel[256], type[32];
	int i, cut = -1;
	long n;

	n = my_syscall4(__NR_readlinkat, AT_FDCWD, "/sys/block/vda",
			rel, sizeof(rel) - 1);
	/* ../devices/pci0000:00/0000:00:02.0/virtio1/block/vda */
	for (i = 0; n > 0 && i < n; i++)
		if (!strncmp(rel + i, "/virtio", 7) && cut < 0)
			cut = i;
	if (n > 3 && cut > 3) {
		rel[cut] = 0;
		snprint(link, sizeof(link), "/sys/%s/iommu_group", rel + 3);
	} else {
		snprint(link, sizeof(link), "/sys/block/vda (unresolved)");
	}
	n = open(link, O_RDONLY | O_DIRECTORY, 0);
	if (n < 0) {
		snprint(why, sizeof(why), "%s missing: no IOMMU", link);
	} else {
		close(n);
		/* /sys/kernel/iommu_groups/N/type, through the link */
		n = strlen(link);
		snprint(link + n, sizeof(link) - n, "/type");
		if (read_file(link, type, sizeof(type)) <= 0)
			strcpy(type, "(unreadable)");
		say("# iommu: %s: %s\n", link, type);
		if (strcmp(type, "DMA") && strcmp(type, "DMA-FQ"))
			snprint(why, sizeof(why),
				"iommu group type %s: not a translated DMA domain",
				type);
	}
	result(!*why, "io_went_through_iommu", why);
}

/* Prove that the I/O went through the DMA path this row is about. */
static void test_dma_path(void)
{
	char why[128] = "";

	if (!strcmp(mode, "swiotlb")) {
		say("# swiotlb: io_tlb_used peaked at %ld slots (%ld samples)\n",
		    used_max, samples);
		if (used_max <= 0)
			snprint(why, sizeof(why),
				"no slot was ever in use: I/O did not bounce");
		result(used_max > 0, "io_went_through_swiotlb", why);
	} else if (!strcmp(mode, "iommu")) {
		test_iommu();
	} else {
		result(1, "dma_path", "SKIP mode=none");
	}
}
static char testdev[64];

static void find_testdev(const char *name, void *arg)
{
	char path[128], v[16], d[16];

	snprint(path, sizeof(path), "/sys/bus/pci/devices/%s/vendor", name);
	if (read_file(path, v, sizeof(v)) <= 0)
		return;
	snprint(path, sizeof(path), "/sys/bus/pci/devices/%s/device", name);
	if (read_file(path, d, sizeof(d)) <= 0)
		return;
	/* QEMU's pci-testdev: 1b36:0005 */
	if (!strcmp(v, "0x1b36") && !strcmp(d, "0x0005"))
		strcpy(testdev, name);
}

static int online_cpus(void)
{
	char buf[64];
	const char *p;

	/* "0" or "0-N" is what QEMU gives us */
	if (read_file("/sys/devices/system/cpu/online", buf, sizeof(buf)) <= 0)
		return 1;
	p = strchr(buf, '-');
	return p ? atoi(p + 1) + 1 : 1;
}

/*
 * A dynamic swiotlb booted with a tiny pool must have grown under load.
 * One that returns idle pools may have shrunk again by now: the size
 * right after the I/O counts too, and so does a pool freed.
 */
static long nslabs_before, nslabs_after_io = -1;

static void test_growth(void)
{
	long nslabs = read_long(SWIOTLB_DIR "io_tlb_nslabs");
	long added = read_long(SWIOTLB_DIR "io_tlb_pools_added");
	long failed = read_long(SWIOTLB_DIR "io_tlb_growth_failures");
	long freed = read_long(SWIOTLB_DIR "io_tlb_pools_freed");
	char why[128] = "";
	/* without io_tlb_pools_added (upstream's kernel): by size alone */
	int ok = (nslabs > nslabs_before || nslabs_after_io > nslabs_before ||
		  freed > 0) && added != 0;

	say("# swiotlb growth: slots %ld -> %ld (%ld after the I/O), pools added %ld, pools freed %ld, growth failures %ld, peak used %ld\n",
	    nslabs_before, nslabs, nslabs_after_io, added, freed, failed,
	    used_max);
	if (!ok)
		snprint(why, sizeof(why), "the allocator did not grow");
	result(ok, "swiotlb_grew", why);
}

/*
 * A swiotlb that returns idle growth pools (the mainline series:
 * swiotlb.idle_ms, io_tlb_pools_freed) must be back at its boot size
 * once nothing is mapped for the idle period.  Waits up to five idle
 * periods (the pool must stay unused for one whole period after the
 * last unmap, then the grace period), bounded by RETURN_MAX_MS.  A
 * kernel without io_tlb_pools_freed (plain 6.12, the series before the
 * patch that returns pools) never shrinks: a skip, not a failure.
 */
#define RETURN_MAX_MS	10000

static void test_return(void)
{
	long idle_ms = read_long("/sys/module/swiotlb/parameters/idle_ms");
	long freed = read_long(SWIOTLB_DIR "io_tlb_pools_freed");
	long nslabs = read_long(SWIOTLB_DIR "io_tlb_nslabs");
	long t0 = now_us(), limit_ms, ms, keep_max = 0, keep_samples = 0;
	char why[160] = "";
	int spid = -1;

	if (freed < 0) {
		result(1, "swiotlb_returned",
		       "SKIP no " SWIOTLB_DIR "io_tlb_pools_freed");
		return;
	}
	if (idle_ms < 0)
		idle_ms = param_long("idle_ms", 1000);
	if (idle_ms == 0) {
		result(0, "swiotlb_returned",
		       "swiotlb.idle_ms is 0: pools are never returned");
		return;
	}
	limit_ms = 5 * idle_ms;
	if (limit_ms > RETURN_MAX_MS)
		limit_ms = RETURN_MAX_MS;
	/* the bench's trace goes on over the return, on the load's clock */
	if (param_long("trace", 0)) {
		keep_max = used_max;
		keep_samples = samples;
		spid = fork();
		if (spid == 0)
			sampler();
	}
	while (nslabs != nslabs_before && now_us() - t0 < limit_ms * 1000) {
		sleep_us(100000);
		nslabs = read_long(SWIOTLB_DIR "io_tlb_nslabs");
	}
	ms = (now_us() - t0) / 1000;
	if (spid > 0) {
		/* the trace shows the pool at its new size for a while too */
		sleep_us(500000);
		sampler_stop(spid);
		show_trace();
		used_max = keep_max;
		samples = keep_samples;
	}
	freed = read_long(SWIOTLB_DIR "io_tlb_pools_freed");
	say("# swiotlb return: slots %ld at boot, %ld after %ld ms idle (idle_ms %ld), pools freed %ld, bytes freed %ld\n",
	    nslabs_before, nslabs, ms, idle_ms, freed,
	    read_long(SWIOTLB_DIR "io_tlb_bytes_freed"));
	if (nslabs != nslabs_before)
		snprint(why, sizeof(why),
			"io_tlb_nslabs %ld, not its boot value %ld, after %ld ms idle",
			nslabs, nslabs_before, ms);
	result(nslabs == nslabs_before, "swiotlb_returned", why);
}

static void test_map_benchmark(void)
{
	char path[160], why[128] = "", name[64];
	long granules[MAX_LIST], threads[MAX_LIST];
	int ng, nt, g, t, fd, ok;
	struct map_benchmark mb;

	for_each_entry("/sys/bus/pci/devices", find_testdev, NULL);
	if (!*testdev) {
		result(0, "map_benchmark_bind", "no pci-testdev (1b36:0005)");
		return;
	}
	snprint(path, sizeof(path),
		"/sys/bus/pci/devices/%s/driver_override", testdev);
	ok = !write_file(path, "dma_map_benchmark") &&
	     !write_file("/sys/bus/pci/drivers_probe", testdev);
	fd = open("/sys/kernel/debug/dma_map_benchmark", O_RDWR, 0);
	if (!ok || fd < 0)
		snprint(why, sizeof(why), "binding %s failed", testdev);
	result(ok && fd >= 0, "map_benchmark_bind", why);
	if (fd < 0)
		return;

	if (!param_long("bench", 1)) {
		result(1, "map_benchmark_run", "SKIP dmastress.bench=0");
		close(fd);
		return;
	}
	ng = param_list("granules", "1", granules);
	nt = param_list("threads", "0", threads);
	for (g = 0; g < ng; g++) {
		for (t = 0; t < nt; t++) {
			memset(&mb, 0, sizeof(mb));
			mb.threads = threads[t] ? threads[t] : online_cpus();
			mb.seconds = param_long("bench_s", 2);
			mb.node = -1;
			mb.dma_bits = 32;
			mb.dma_dir = 0;	/* DMA_MAP_BIDIRECTIONAL */
			mb.granule = granules[g];
			ok = ioctl(fd, DMA_MAP_BENCHMARK, &mb) == 0;
			say("# bench granule=%u threads=%u map_100ns=%lu map_sd=%lu unmap_100ns=%lu unmap_sd=%lu\n",
			    mb.granule, mb.threads,
			    (long)mb.avg_map_100ns, (long)mb.map_stddev,
			    (long)mb.avg_unmap_100ns, (long)mb.unmap_stddev);
			snprint(name, sizeof(name), "map_benchmark_g%u_t%u",
				mb.granule, mb.threads);
			result(ok, name, ok ? "" : "ioctl failed");
		}
	}
	close(fd);
}

/* Sequential O_DIRECT throughput, writes then reads, per block size. */
static void test_throughput(void)
{
	long sizes[MAX_LIST], t0, us, mb = param_long("tput_mb", 16);
	int n = param_list("tput", "", sizes), i, op, fd, ok = 1;
	uint64_t bytes = (uint64_t)mb << 20, off;
	static const char *const ops[] = { "write", "read" };

	for (i = 0; i < n; i++) {
		size_t bs = sizes[i];

		if (bs < 512 || bs > 262144 || bs % 512) {
			ok = 0;
			continue;
		}
		for (op = 0; op < 2; op++) {
			fd = open("/dev/vda", (op ? O_RDONLY : O_WRONLY) |
				  O_DIRECT, 0);
			if (fd < 0) {
				ok = 0;
				continue;
			}
			memset(iobuf, 0x3c, bs);
			t0 = now_us();
			for (off = 0; off < bytes; off += bs) {
				if ((op ? read(fd, iobuf, bs) :
				     write(fd, iobuf, bs)) != (ssize_t)bs) {
					ok = 0;
					break;
				}
			}
			if (!op)
				fsync(fd);
			us = now_us() - t0;
			close(fd);
			say("# tput op=%s bs=%lu mb=%ld us=%ld kib_s=%ld\n",
			    ops[op], (long)bs, mb, us,
			    us > 0 ? (long)(bytes / 1024 * 1000000 / us) : 0);
		}
	}
	result(ok, "throughput_o_direct", ok ? "" : "a run failed");
}

/*
 * The floor under a bounce: one 4 KiB copy, done the way the kernel's
 * memcpy does it on x86 (rep movsb, ERMS); elsewhere a word loop.
 */
static void copy4k(void *dst, const void *src)
{
#if defined(__x86_64__)
	size_t n = 4096;

	asm volatile("rep movsb" : "+D" (dst), "+S" (src), "+c" (n)
		     : : "memory");
#else
	uint64_t *d = dst;
	const uint64_t *s = src;
	int i;

	for (i = 0; i < 512; i++)
		d[i] = s[i];
	asm volatile("" : : "r" (d) : "memory");
#endif
}

static void test_memcpy(void)
{
	const long loops = 20000;
	long t0, us, i;

	copy4k(iobuf, iobuf + 8192);
	t0 = now_us();
	for (i = 0; i < loops; i++)
		copy4k(iobuf + (i & 1) * 4096, iobuf + 8192);
	us = now_us() - t0;
	say("# memcpy bytes=4096 loops=%ld us=%ld ps_per_copy=%ld\n",
	    loops, us, us * 1000000 / loops);
	result(us > 0, "memcpy_floor", us > 0 ? "" : "no time passed");
}

/* Load a benchmark module; it reports on the console by itself. */
static void test_module(const char *path)
{
	char why[128] = "";
	int fd = open(path, O_RDONLY, 0);
	long ret = -1;

	if (fd >= 0) {
		ret = my_syscall3(__NR_finit_module, fd, "", 0);
		close(fd);
	}
	/* a benchmark module may refuse to stay loaded once it reported */
	if (fd < 0 || (ret && ret != -ENODEV))
		snprint(why, sizeof(why), "loading %s failed (%ld)", path, ret);
	result(!*why, "benchmark_module", why);
}

/*
 * The hang detectors (soft lockup, hung task, RCU stall; see
 * common.config) print to the kernel log and carry on: read it back
 * (/dev/kmsg, from the start) and fail on any of their reports.  The
 * host fails a console with "BUG: soft lockup" or "INFO: task ...
 * blocked" already, not an RCU stall.
 */
static const char *const hang_reports[] = {
	"soft lockup", "blocked for more than", "self-detected stall",
	"detected stalls", "detected expedited stalls", "rcu_preempt kthread starved",
	"rcu_sched kthread starved",
};

static void test_hang_reports(void)
{
	static char rec[8192];
	char why[160] = "";
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK, 0);
	unsigned int i;
	int n, lines = 0;
	char *msg;

	if (fd < 0) {
		result(0, "no_hang_reports", "cannot open /dev/kmsg");
		return;
	}
	for (;;) {
		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue;	/* overwritten: go on with the next */
		if (n <= 0)
			break;		/* EAGAIN: the end */
		rec[n] = 0;
		lines++;
		msg = strchr(rec, ';');
		msg = msg ? msg + 1 : rec;
		for (i = 0; i < sizeof(hang_reports) / sizeof(hang_reports[0]); i++) {
			if (!*why && contains(msg, hang_reports[i])) {
				n = strlen(msg);
				while (n && msg[n - 1] == '\n')
					msg[--n] = 0;
				if (n > 120)
					msg[120] = 0;
				snprint(why, sizeof(why), "kernel: %s", msg);
			}
		}
	}
	close(fd);
	say("# kernel log: %d records read\n", lines);
	result(!*why, "no_hang_reports", why);
}

static int have_kmemleak(void)
{
	struct stat st;

	return stat("/sys/kernel/debug/kmemleak", &st) == 0;
}

/*
 * kmemleak reports only objects older than 5 s (MSECS_MIN_AGE) at the
 * time of a scan: wait longer than that after the last test, measured on
 * the guest's clock (which is the icount clock on MIPS), then scan twice,
 * as its documentation recommends (an object can look unreferenced once,
 * its pointer in flight in a register), and fail on any report.
 */
static void test_kmemleak(void)
{
	static char buf[2048];
	long t0 = now_us();
	int n, i, lines;
	char *p, *q;

	while (now_us() - t0 < 6000000)
		sleep_us(500000);
	if (write_file("/sys/kernel/debug/kmemleak", "scan")) {
		result(1, "kmemleak_clean",
		       "SKIP kmemleak present but disabled (scan refused)");
		return;
	}
	write_file("/sys/kernel/debug/kmemleak", "scan");
	n = read_file("/sys/kernel/debug/kmemleak", buf, sizeof(buf));
	if (n > 0) {
		/* the first lines of the report, as KTAP diagnostics */
		for (p = buf, lines = 0; p && *p && lines < 16; p = q, lines++) {
			q = strchr(p, '\n');
			if (q)
				*q++ = 0;
			for (i = 0; p[i] == ' '; i++)
				;
			say("# kmemleak: %s\n", p + i);
		}
	}
	say("# kmemleak: scanned twice %ld ms after the last test\n",
	    (now_us() - t0) / 1000);
	result(n == 0, "kmemleak_clean",
	       n > 0 ? "suspected leaks" : n < 0 ? "cannot read the report" : "");
}

/*
 * Child: if the run is not over after @secs seconds, fail the test
 * guest_watchdog (its number was kept for it: the last of the plan)
 * naming the test that was running, and have the kernel print the
 * blocked tasks' stacks (sysrq 'w') on the console, then once more a
 * minute later, so that a hung run tells the host where it hangs before
 * the host's timeout kills it.  Killed by main() at the end, which then
 * reports the test as passed unless /watchdog.fired exists.
 */
static int start_watchdog(long secs, int number)
{
	char phase[64];
	int pid, fd, i;

	if (secs <= 0)
		return -1;
	pid = fork();
	if (pid)
		return pid;
	for (i = 0; i < 2; i++) {
		sleep_us((i ? 60 : secs) * 1000000L);
		if (!i) {
			write_new_file("/watchdog.fired", "1");
			if (read_file("/phase", phase, sizeof(phase)) <= 0)
				strcpy(phase, "?");
			say("not ok %d guest_watchdog # still running after %ld s, in %s\n",
			    number, secs, phase);
		}
		say("# watchdog: still running after %ld s, blocked tasks:\n",
		    secs + 60 * i);
		fd = open("/proc/sysrq-trigger", O_WRONLY, 0);
		if (fd < 0 || write(fd, "w", 1) != 1)
			say("# watchdog: no /proc/sysrq-trigger (MAGIC_SYSRQ)\n");
		if (fd >= 0)
			close(fd);
	}
	exit(0);
}

static int ok_mounts;

static void test_mounts(void)
{
	result(ok_mounts && verdict_fd >= 0, "mounts_and_verdict_port",
	       verdict_fd < 0 ? "no virtio port named verdict" :
	       ok_mounts ? "" : "mounting debugfs failed");
}

static long n_bench(void)
{
	long granules[MAX_LIST], threads[MAX_LIST];

	return 1 + (param_long("bench", 1) ?
		    param_list("granules", "1", granules) *
		    param_list("threads", "0", threads) : 1);
}

static long one(void) { return 1; }
static long growth(void)
{
	return param_long("expect_growth", 0) || param_long("expect_return", 0);
}
static long returns(void) { return param_long("expect_return", 0) ? 1 : 0; }
static long tput(void) { return !!param("tput"); }
static long memcpy_on(void) { return !!param_long("memcpy", 0); }
static long module_on(void) { return !!param("module"); }
static long kmemleak_on(void) { return have_kmemleak(); }
/*
 * 240 s: the MIPS rows' write+verify sometimes takes 155-165 s instead of
 * 8-20 (I/O under -icount, whatever the guest does meanwhile), which is
 * slow but not hung; the host's timeout is 420 s, after both dumps.
 */
#define WATCHDOG_S	240

static long watchdog_on(void) { return param_long("watchdog", WATCHDOG_S) > 0; }

static void run_module(void) { test_module(param("module")); }

/*
 * The tests, in order: how many KTAP lines each gives (0: not on this
 * row) and what runs it.  The plan is the sum, so the two cannot drift;
 * a test that ends early is completed with "not ok" lines.  The watchdog
 * is last: its child reports that number itself if it fires.
 */
static const struct test {
	const char *name;
	long (*count)(void);
	void (*run)(void);
} tests[] = {
	{ "mounts_and_verdict_port", one, test_mounts },
	{ "buffers_page_aligned", one, test_alignment },
	{ "write_verify_o_direct", one, test_rw },
	{ "swiotlb_slots_released_after_io", one, test_slots_after_io },
	{ "dma_path", one, test_dma_path },
	{ "swiotlb_grew", growth, test_growth },
	{ "swiotlb_returned", returns, test_return },
	{ "map_benchmark", n_bench, test_map_benchmark },
	{ "swiotlb_slots_released_after_bench", one, test_slots_after_bench },
	{ "throughput_o_direct", tput, test_throughput },
	{ "memcpy_floor", memcpy_on, test_memcpy },
	{ "benchmark_module", module_on, run_module },
	{ "no_hang_reports", one, test_hang_reports },
	{ "kmemleak_clean", kmemleak_on, test_kmemleak },
};
#define NTESTS (sizeof(tests) / sizeof(tests[0]))

int main(int argc, char **argv)
{
	long counts[NTESTS];
	int planned = 0, watchdog = -1, wd, first, i;
	struct stat st;

	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	ok_mounts = !mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	read_file("/proc/cmdline", cmdline, sizeof(cmdline));
	for_each_entry("/sys/class/virtio-ports", find_verdict_port, NULL);
	if (param("mode") && strlen(param("mode")) < sizeof(mode))
		strcpy(mode, param("mode"));

	for (i = 0; i < (int)NTESTS; i++)
		planned += counts[i] = tests[i].count();
	wd = watchdog_on();
	planned += wd;
	say("KTAP version 1\n1..%d\n", planned);
	say("# dmastress: mode=%s cpus=%d verdict=%s\n", mode, online_cpus(),
	    verdict_fd >= 0 ? "port" : "console-only");
	if (wd)
		watchdog = start_watchdog(param_long("watchdog", WATCHDOG_S),
					  planned);
	show_counters("before");
	nslabs_before = read_long(SWIOTLB_DIR "io_tlb_nslabs");
	for (i = 0; i < (int)NTESTS; i++) {
		if (!counts[i])
			continue;
		if (tests[i].run == test_hang_reports)
			show_counters("after");
		write_new_file("/phase", tests[i].name);
		first = test_no;
		tests[i].run();
		while (test_no - first < counts[i])
			result(0, tests[i].name, "did not report");
		if (tests[i].run == test_rw) {
			nslabs_after_io =
				read_long(SWIOTLB_DIR "io_tlb_nslabs");
			show_counters("after-io");
		}
	}
	if (wd) {
		if (watchdog > 0) {
			kill(watchdog, SIGKILL);
			waitpid(watchdog, NULL, 0);
		}
		if (stat("/watchdog.fired", &st) == 0) {
			/* its child printed the "not ok" line */
			test_no++;
			failures++;
		} else {
			result(1, "guest_watchdog", "");
		}
	}
	say("# dmastress: %s (%d of %d failed)\n",
	    failures || test_no != planned ? "FAIL" : "PASS", failures,
	    test_no);
	if (verdict_fd >= 0)
		fsync(verdict_fd);
	reboot(LINUX_REBOOT_CMD_POWER_OFF);
	reboot(LINUX_REBOOT_CMD_RESTART);
	return 0;
}
