// SPDX-License-Identifier: GPL-2.0
/*
 * swiotlb_bench - what a bounce buffer costs as its pools multiply.
 *
 * Everything happens in module_init, through the public DMA API on a
 * platform device of its own, so the same source builds against any tree
 * (plain v6.12, or v6.12 with the mainline swiotlb series); the kernel must
 * be booted with swiotlb=force so that every mapping bounces, and with a
 * small default pool (swiotlb=512,force: 1 MiB) for the pool and storm
 * parts.  One result line is printed with pr_info(), then loading fails
 * with -ENODEV on purpose, so the module can be loaded again.
 *
 * one_page_ns	map + unmap of one page while the default pool has room
 *		(the common case, which must not get slower)
 * sync_ns_N	dma_sync_single_for_cpu() + _for_device() of the first of N
 *		transient pools: one pool lookup each (N = 1, 32, 1000)
 * unmap_ns_N	unmap of one of those N mappings, on average, in the order
 *		they were made: each unmap looks its pool up and frees it
 * storm_ns	4000 one-page mappings made in atomic context on a full
 *		default pool, then unmapped: the whole time
 * storm_failed	mappings of the storm that failed
 *
 * The N transient pools are made with preemption disabled once every pool
 * is full: the growth worker, which schedule_work() queues on this CPU,
 * cannot run and add a pool in between, so each mapping gets a transient
 * pool of its own, as in an atomic mapping storm.  How many slots fill the
 * pools is read from debugfs (io_tlb_nslabs, io_tlb_used), which both
 * trees have; CONFIG_DEBUG_FS is needed.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dma-mapping.h>
#include <linux/fs.h>
#include <linux/kstrtox.h>
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/module.h>
#include <linux/platform_device.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#define BENCH_ONE_PAGE_REPS	20000
#define BENCH_SYNC_REPS		10000
#define BENCH_STORM		4000
#define BENCH_MAX_POOLS		1000
/* one fill mapping: a whole segment of 128 slots of 2 KiB */
#define BENCH_SEG		(128 * 2048)
#define BENCH_MAX_FILL		4096

static struct device *bench_dev;
/* fill mappings of bench_fill(): segments first, then single slots */
static int bench_nfill, bench_nseg;

/* A number from /sys/kernel/debug/swiotlb/@name, or -1. */
static long bench_debugfs(const char *name)
{
	char path[64], buf[32] = {};
	struct file *f;
	loff_t pos = 0;
	ssize_t len;
	long val;

	snprintf(path, sizeof(path), "/sys/kernel/debug/swiotlb/%s", name);
	f = filp_open(path, O_RDONLY, 0);
	if (IS_ERR(f))
		return -1;
	len = kernel_read(f, buf, sizeof(buf) - 1, &pos);
	filp_close(f, NULL);
	if (len <= 0 || kstrtol(strim(buf), 10, &val))
		return -1;
	return val;
}

static u64 bench_one_page(void *page)
{
	u64 t0 = ktime_get_ns();
	dma_addr_t a;
	int i;

	for (i = 0; i < BENCH_ONE_PAGE_REPS; i++) {
		a = dma_map_single(bench_dev, page, PAGE_SIZE, DMA_TO_DEVICE);
		if (dma_mapping_error(bench_dev, a))
			return 0;
		dma_unmap_single(bench_dev, a, PAGE_SIZE, DMA_TO_DEVICE);
	}
	return div_u64(ktime_get_ns() - t0, BENCH_ONE_PAGE_REPS);
}

/*
 * Fill every free slot of every pool, in segments and then single slots,
 * with preemption disabled so that no pool is added meanwhile, then make @n
 * one-slot mappings, each in a transient pool.  Leaves preemption disabled;
 * returns how many of the @n transient mappings were made.
 */
static int bench_fill(void *seg, dma_addr_t *fill, void *small,
		      dma_addr_t *tr, int n)
{
	long free = bench_debugfs("io_tlb_nslabs") - bench_debugfs("io_tlb_used");
	size_t size;
	dma_addr_t a;
	int i;

	bench_nfill = 0;
	bench_nseg = 0;
	preempt_disable();
	while (free > 0 && bench_nfill < BENCH_MAX_FILL) {
		size = free >= 128 ? BENCH_SEG : 64;
		a = dma_map_single(bench_dev, size == BENCH_SEG ? seg : small,
				   size, DMA_TO_DEVICE);
		if (dma_mapping_error(bench_dev, a))
			break;
		fill[bench_nfill++] = a;
		if (size == BENCH_SEG)
			bench_nseg++;
		free -= size == BENCH_SEG ? 128 : 1;
	}
	for (i = 0; i < n; i++) {
		tr[i] = dma_map_single(bench_dev, small, 64, DMA_TO_DEVICE);
		if (dma_mapping_error(bench_dev, tr[i]))
			break;
	}
	return i;
}

static void bench_unfill(dma_addr_t *fill)
{
	while (bench_nfill--)
		dma_unmap_single(bench_dev, fill[bench_nfill],
				 bench_nfill < bench_nseg ? BENCH_SEG : 64,
				 DMA_TO_DEVICE);
}

static int bench_pools(int n, void *seg, dma_addr_t *fill, void *small,
		       dma_addr_t *tr, u64 *sync_ns, u64 *unmap_ns)
{
	int made, i;
	u64 t0;

	made = bench_fill(seg, fill, small, tr, n);
	preempt_enable();
	if (made < n) {
		for (i = 0; i < made; i++)
			dma_unmap_single(bench_dev, tr[i], 64, DMA_TO_DEVICE);
		bench_unfill(fill);
		pr_err("only %d of %d transient mappings\n", made, n);
		return -ENOMEM;
	}

	t0 = ktime_get_ns();
	for (i = 0; i < BENCH_SYNC_REPS; i++) {
		dma_sync_single_for_cpu(bench_dev, tr[0], 64, DMA_TO_DEVICE);
		dma_sync_single_for_device(bench_dev, tr[0], 64,
					   DMA_TO_DEVICE);
	}
	*sync_ns = div_u64(ktime_get_ns() - t0, BENCH_SYNC_REPS);

	t0 = ktime_get_ns();
	for (i = 0; i < n; i++)
		dma_unmap_single(bench_dev, tr[i], 64, DMA_TO_DEVICE);
	*unmap_ns = div_u64(ktime_get_ns() - t0, n);

	bench_unfill(fill);
	return 0;
}

static int bench_storm(void *page, dma_addr_t *a, u64 *ns)
{
	int i, failed = 0;
	u64 t0 = ktime_get_ns();

	local_bh_disable();
	for (i = 0; i < BENCH_STORM; i++) {
		a[i] = dma_map_single(bench_dev, page, PAGE_SIZE,
				      DMA_TO_DEVICE);
		if (dma_mapping_error(bench_dev, a[i]))
			failed++;
	}
	for (i = 0; i < BENCH_STORM; i++)
		if (!dma_mapping_error(bench_dev, a[i]))
			dma_unmap_single(bench_dev, a[i], PAGE_SIZE,
					 DMA_TO_DEVICE);
	local_bh_enable();
	*ns = ktime_get_ns() - t0;
	return failed;
}

static int __init swiotlb_bench_init(void)
{
	static const int npools[] = { 1, 32, BENCH_MAX_POOLS };
	u64 one_page, sync_ns[3] = {}, unmap_ns[3] = {}, storm_ns;
	struct platform_device *pdev;
	void *page, *seg, *small;
	dma_addr_t *fill, *tr;
	int i, ret, failed;

	pdev = platform_device_register_simple(KBUILD_MODNAME, -1, NULL, 0);
	if (IS_ERR(pdev))
		return PTR_ERR(pdev);
	bench_dev = &pdev->dev;
	ret = dma_coerce_mask_and_coherent(bench_dev, DMA_BIT_MASK(64));
	page = kmalloc(PAGE_SIZE, GFP_KERNEL);
	seg = kmalloc(BENCH_SEG, GFP_KERNEL);
	small = kmalloc(64, GFP_KERNEL);
	fill = vmalloc(array_size(BENCH_MAX_FILL, sizeof(*fill)));
	tr = vmalloc(array_size(BENCH_STORM, sizeof(*tr)));
	if (ret || !page || !seg || !small || !fill || !tr) {
		ret = ret ?: -ENOMEM;
		goto out;
	}

	one_page = bench_one_page(page);
	for (i = 0; i < ARRAY_SIZE(npools); i++) {
		ret = bench_pools(npools[i], seg, fill, small, tr,
				  &sync_ns[i], &unmap_ns[i]);
		if (ret)
			goto out;
	}
	failed = bench_storm(page, tr, &storm_ns);

	pr_info("one_page_ns=%llu sync_ns_1=%llu sync_ns_32=%llu sync_ns_1000=%llu unmap_ns_1=%llu unmap_ns_32=%llu unmap_ns_1000=%llu storm_ns=%llu storm_failed=%d\n",
		one_page, sync_ns[0], sync_ns[1], sync_ns[2], unmap_ns[0],
		unmap_ns[1], unmap_ns[2], storm_ns, failed);
	ret = -ENODEV;
out:
	vfree(tr);
	vfree(fill);
	kfree(small);
	kfree(seg);
	kfree(page);
	platform_device_unregister(pdev);
	return ret;
}
module_init(swiotlb_bench_init);

MODULE_DESCRIPTION("swiotlb lookup, transient pool and storm benchmark");
MODULE_LICENSE("GPL");
