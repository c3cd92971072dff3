// SPDX-License-Identifier: GPL-2.0
/*
 * dmastress - the guest's /init for the DMA test matrix.
 *
 * Built static against the base tree's tools/include/nolibc, for every
 * arch, with only a cross compiler.  It mounts the pseudo filesystems,
 * then on the virtio-blk disk /dev/vda writes a position-dependent
 * pattern and reads it back with O_DIRECT from several processes at
 * several block sizes (page-aligned and unaligned buffers), verifying
 * every byte, while a sampler process watches the swiotlb counters.  It
 * then binds the spare PCI device (QEMU's pci-testdev) to
 * dma_map_benchmark and runs it.  Every test prints one KTAP line; the
 * KTAP stream goes to the console and to the virtio port named
 * "verdict", which the host reads.  Then it powers the machine off.
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
 *   dmastress.watchdog=N               after N seconds, dump the blocked
 *                                      tasks via sysrq 'w' (150; 0 = off)
 *
 * and for the benchmark (./patchtree bench), all off by default:
 *   dmastress.trace=1                  print the swiotlb size and use over
 *                                      the write+verify load, as "# trace"
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

#define MAX_PROCS	8
#define MAX_LIST	8
#define VERIFY_CAP_BLOCKS 4096	/* a reader reads at most this many blocks */

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

/* One reader: block size and how far its buffer is from page alignment. */
static const struct { unsigned int bs, skew; } readers[] = {
	{ 512, 0 }, { 4096, 512 }, { 12800, 1024 },
	{ 65536, 0 }, { 262144, 512 },
};
#define NREADERS (sizeof(readers) / sizeof(readers[0]))

static char cmdline[4096];
static int verdict_fd = -1;
static int test_no, failures;
static char mode[16] = "swiotlb";

/*
 * I/O buffer: static, since v6.1's nolibc has no mmap() on MIPS (no
 * 6-argument syscall there).  Each forked reader has its own copy.
 */
static unsigned char iobuf[262144 + 8192] __attribute__((aligned(4096)));

/* The sampler's result, read back from the files it writes at the end. */
static long used_max, samples;

/* The sampler's trace: time (ms from its start), slots, slots in use. */
#define TRACE_MAX	512
static struct { long ms, nslabs, used; } trace[TRACE_MAX];

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

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY, 0);
	int n;

	if (fd < 0)
		return -1;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (int)strlen(s) ? 0 : -1;
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

static inline uint64_t pattern(uint64_t off, unsigned int pass)
{
	return (off * 0x9e3779b97f4a7c15ULL) ^ (0x5a5a0000ULL + pass) ^
	       (off << 17);
}

static unsigned char *alloc_buf(size_t size, size_t skew)
{
	return size + skew <= sizeof(iobuf) ? iobuf + skew : NULL;
}

static int write_pattern(uint64_t bytes, unsigned int pass, char *why)
{
	const size_t bs = 262144;
	unsigned char *buf = alloc_buf(bs, 0);
	uint64_t off, i;
	int fd = open("/dev/vda", O_WRONLY | O_DIRECT, 0);

	if (fd < 0 || !buf) {
		snprint(why, 128, "open /dev/vda or buffer failed");
		return 0;
	}
	for (off = 0; off < bytes; off += bs) {
		for (i = 0; i < bs; i += 8) {
			uint64_t v = pattern(off + i, pass);

			memcpy(buf + i, &v, 8);
		}
		if (write(fd, buf, bs) != (ssize_t)bs) {
			snprint(why, 128, "write at %lu failed", (long)off);
			close(fd);
			return 0;
		}
	}
	fsync(fd);
	close(fd);
	return 1;
}

/* Child: read the region back with one reader's geometry and verify. */
static int verify_reader(int r, uint64_t bytes, unsigned int pass)
{
	unsigned int bs = readers[r].bs;
	unsigned char *buf = alloc_buf(bs, readers[r].skew);
	uint64_t off, i, limit = (uint64_t)bs * VERIFY_CAP_BLOCKS, bad = 0;
	int fd = open("/dev/vda", O_RDONLY | O_DIRECT, 0);

	if (fd < 0 || !buf)
		return 2;
	if (limit > bytes)
		limit = bytes - bytes % bs;
	for (off = 0; off + bs <= limit; off += bs) {
		memset(buf, 0xa5, bs);
		if (read(fd, buf, bs) != (ssize_t)bs) {
			say("# reader bs=%u: read at %lu failed\n", bs, (long)off);
			return 3;
		}
		for (i = 0; i < bs; i += 8) {
			uint64_t v;

			memcpy(&v, buf + i, 8);
			if (v != pattern(off + i, pass) && bad++ < 4)
				say("# reader bs=%u skew=%u: mismatch at byte %lu\n",
				    bs, readers[r].skew, (long)(off + i));
		}
	}
	close(fd);
	if (bad)
		say("# reader bs=%u: %lu bad words\n", bs, (long)bad);
	return bad ? 1 : 0;
}

/*
 * Child: sample io_tlb_used until the file /sampler.stop appears, then
 * leave the peak and the sample count in /sampler.out (the initramfs is
 * writable; nolibc of v6.1 has neither pipes nor shared mappings
 * everywhere).  It yields rather than sleeps between samples: on MIPS
 * (1 vCPU, -icount) a guest that keeps going idle for a timer ran the
 * write+verify in 156 s instead of 7.
 */
static void sampler(void)
{
	long used, max = 0, n = 0, t0 = now_us(), ms, step = 1, ntrace = 0;
	int tracing = param_long("trace", 0), i;
	struct stat st;
	char buf[64];
	int fd;

	while (stat("/sampler.stop", &st) < 0) {
		used = read_long("/sys/kernel/debug/swiotlb/io_tlb_used");
		if (used > max)
			max = used;
		n++;
		ms = (now_us() - t0) / 1000;
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
		sched_yield();
	}
	snprint(buf, sizeof(buf), "%ld %ld\n", max, n);
	fd = open("/sampler.out", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	write(fd, buf, strlen(buf));
	close(fd);
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

static void test_rw(uint64_t bytes, int passes)
{
	char why[128] = "";
	long t0 = now_us();
	unsigned int pass;
	int r, status, pid, ok = 1, spid, pids[NREADERS];

	spid = fork();
	if (spid == 0)
		sampler();

	for (pass = 0; pass < (unsigned int)passes && ok; pass++) {
		if (!write_pattern(bytes, pass, why)) {
			ok = 0;
			break;
		}
		for (r = 0; r < (int)NREADERS; r++) {
			pid = fork();
			if (pid == 0)
				exit(verify_reader(r, bytes, pass));
			pids[r] = pid;
		}
		for (r = 0; r < (int)NREADERS; r++) {
			/* by pid: the sampler and the watchdog are children too */
			if (pids[r] < 0 || waitpid(pids[r], &status, 0) < 0 ||
			    !WIFEXITED(status) || WEXITSTATUS(status)) {
				ok = 0;
				snprint(why, sizeof(why), "a reader failed");
			}
		}
	}
	sampler_stop(spid);
	show_trace();
	say("# write+verify: %lu MiB x %d passes, %d readers, %ld ms\n",
	    (long)(bytes >> 20), passes, (int)NREADERS,
	    (now_us() - t0) / 1000);
	result(ok, "write_verify_o_direct", why);
}

/* Prove that the I/O went through the DMA path this row is about. */
static void test_dma_path(void)
{
	char why[128] = "", link[256];
	long n;

	if (!strcmp(mode, "swiotlb")) {
		say("# swiotlb: io_tlb_used peaked at %ld slots (%ld samples)\n",
		    used_max, samples);
		if (used_max <= 0)
			snprint(why, sizeof(why),
				"no slot was ever in use: I/O did not bounce");
		result(used_max > 0, "io_went_through_swiotlb", why);
	} else if (!strcmp(mode, "iommu")) {
		char rel[256];
		int i, cut = -1;

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
		if (n < 0)
			snprint(why, sizeof(why), "%s missing: no IOMMU", link);
		else
			close(n);
		result(n >= 0, "io_went_through_iommu", why);
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

#define SWIOTLB_DIR "/sys/kernel/debug/swiotlb/"

/* A dynamic swiotlb booted with a tiny pool must have grown under load. */
static void test_growth(long nslabs_before)
{
	long nslabs = read_long(SWIOTLB_DIR "io_tlb_nslabs");
	long added = read_long(SWIOTLB_DIR "io_tlb_pools_added");
	long failed = read_long(SWIOTLB_DIR "io_tlb_growth_failures");
	char why[128] = "";
	/* without io_tlb_pools_added (upstream's kernel): by size alone */
	int ok = nslabs > nslabs_before && added != 0;

	say("# swiotlb growth: slots %ld -> %ld, pools added %ld, growth failures %ld, peak used %ld\n",
	    nslabs_before, nslabs, added, failed, used_max);
	if (!ok)
		snprint(why, sizeof(why), "the allocator did not grow");
	result(ok, "swiotlb_grew", why);
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

static void test_kmemleak(void)
{
	char buf[256];
	int n;

	if (write_file("/sys/kernel/debug/kmemleak", "scan"))
		return;		/* not a kmemleak kernel: no test line */
	n = read_file("/sys/kernel/debug/kmemleak", buf, sizeof(buf));
	if (n > 0)
		say("# kmemleak: %s\n", buf);
	result(n == 0, "kmemleak_clean", n > 0 ? "suspected leaks" : "");
}

/*
 * Child: if the run is not over after @secs seconds, have the kernel
 * print the blocked tasks' stacks (sysrq 'w') on the console, then once
 * more a minute later, so that a hung run tells the host where it hangs
 * before the host's timeout kills it.  Killed by main() at the end.
 */
static int start_watchdog(long secs)
{
	int pid, fd, i;

	if (secs <= 0)
		return -1;
	pid = fork();
	if (pid)
		return pid;
	for (i = 0; i < 2; i++) {
		sleep(i ? 60 : secs);
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

int main(int argc, char **argv)
{
	long granules[MAX_LIST], threads[MAX_LIST];
	int ok, planned, fd, growth, watchdog;
	long nslabs_before;

	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	ok = !mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	read_file("/proc/cmdline", cmdline, sizeof(cmdline));
	for_each_entry("/sys/class/virtio-ports", find_verdict_port, NULL);
	if (param("mode") && strlen(param("mode")) < sizeof(mode))
		strcpy(mode, param("mode"));

	planned = 5 + (param_long("bench", 1) ?
		       param_list("granules", "1", granules) *
		       param_list("threads", "0", threads) : 1);
	growth = param_long("expect_growth", 0);
	planned += growth ? 1 : 0;
	planned += !!param("tput") + !!param_long("memcpy", 0) +
		   !!param("module");
	fd = open("/sys/kernel/debug/kmemleak", O_RDONLY, 0);
	if (fd >= 0)
		close(fd);
	else
		planned--;
	say("KTAP version 1\n1..%d\n", planned);
	say("# dmastress: mode=%s cpus=%d verdict=%s\n", mode, online_cpus(),
	    verdict_fd >= 0 ? "port" : "console-only");
	result(ok && verdict_fd >= 0, "mounts_and_verdict_port",
	       verdict_fd < 0 ? "no virtio port named verdict" : "");

	watchdog = start_watchdog(param_long("watchdog", 150));
	show_counters("before");
	nslabs_before = read_long(SWIOTLB_DIR "io_tlb_nslabs");
	test_rw((uint64_t)param_long("disk_mb", 32) << 20,
		param_long("passes", 1));
	show_counters("after-io");
	test_dma_path();
	if (growth)
		test_growth(nslabs_before);
	test_map_benchmark();
	if (param("tput"))
		test_throughput();
	if (param_long("memcpy", 0))
		test_memcpy();
	if (param("module"))
		test_module(param("module"));
	show_counters("after");
	test_kmemleak();
	say("# dmastress: %s (%d of %d failed)\n",
	    failures || test_no != planned ? "FAIL" : "PASS", failures,
	    test_no);
	if (watchdog > 0)
		kill(watchdog, SIGKILL);
	if (verdict_fd >= 0)
		fsync(verdict_fd);
	reboot(LINUX_REBOOT_CMD_POWER_OFF);
	reboot(LINUX_REBOOT_CMD_RESTART);
	return 0;
}
