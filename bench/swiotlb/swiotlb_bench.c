// SPDX-License-Identifier: GPL-2.0
/*
 * swiotlb_bench - what a bounce buffer costs as its pools multiply.
 *
 * Everything happens in module_init, through the DMA API on a platform
 * device of its own, so the same source builds against any tree with
 * CONFIG_SWIOTLB_DYNAMIC (plain v6.12, or v6.12 with the mainline swiotlb
 * series); the kernel must be booted with swiotlb=force so that every
 * mapping bounces, and with a small default pool (swiotlb=512,force:
 * 1 MiB) for the storm.  One result line is printed with pr_info(), then
 * loading fails with -ENODEV on purpose, so the module can be loaded again.
 *
 * one_page_ns	map + unmap of one page while the default pool has room
 *		(the common case, which must not get slower)
 * storm_*	BENCH_STORM mappings of 2 KiB (one slot each) made back to
 *		back with interrupts off, on the pools as they are when the
 *		module starts (storm_pool_slots, the allocator's nslabs: 512
 *		after a boot with swiotlb=512,force), then unmapped in the
 *		order they were made
 *		(the oldest first, as I/O completes): storm_map_ns and
 *		storm_unmap_ns for each half, storm_ns for both,
 *		storm_transient the transient pools alive once all were made,
 *		storm_failed the mappings that failed
 * sync_ns_N	dma_sync_single_for_cpu() + _for_device() of the oldest of
 *		N transient pools, one pool lookup each (N = 1, 32, 1000)
 * unmap_ns_N	unmap of one of those N mappings, on average, oldest first:
 *		each unmap looks its pool up and frees it
 * fill_slots_N	slots of the regular pools filled before the N transient
 *		pools were made (all of them: the pools' size at that point)
 *
 * The pool lookup: with CONFIG_SWIOTLB_DYNAMIC, plain v6.12 looks an
 * address up by walking the allocator's list of pools (the default pool and
 * those the growth worker added) and then the device's list of transient
 * pools, to which each new transient pool is added at the head.  The
 * transient pool made first is therefore the last the walk reaches, and its
 * sync costs a walk of all N: that is the mapping whose sync is timed.  A
 * mapping that still found room in a regular pool costs one or two steps
 * whatever N is, so every mapping timed here is checked to be the only one
 * of the newest pool on the device's list (dev->dma_io_tlb_pools, which the
 * series keeps), and the regular pools are filled until a mapping has to go
 * to a transient pool: whole segments until one does, then single slots
 * until one does, and that one is the first of the N.
 *
 * (The first version of this module counted the free slots from debugfs
 * with kernel_read(), which debugfs files do not support: both counters
 * read -1, nothing was filled, and the "transient" mappings found room in
 * the 1 MiB default pool, the first pool every lookup walks, so sync_ns
 * came out flat in N.)
 *
 * The transient pools are made with preemption disabled once every pool is
 * full: the growth worker, which schedule_work() queues on this CPU, cannot
 * run and add a pool in between, so each mapping gets a transient pool of
 * its own, as in an atomic mapping storm.  A growth a previous part queued
 * is waited for first.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dma-direct.h>
#include <linux/dma-mapping.h>
#include <linux/irqflags.h>
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/module.h>
#include <linux/platform_device.h>
#include <linux/rculist.h>
#include <linux/slab.h>
#include <linux/swiotlb.h>
#include <linux/vmalloc.h>
#include <linux/workqueue.h>

#ifndef CONFIG_SWIOTLB_DYNAMIC
#error "swiotlb_bench needs CONFIG_SWIOTLB_DYNAMIC (transient pools)"
#endif

#define BENCH_ONE_PAGE_REPS	20000
#define BENCH_SYNC_REPS		10000
#define BENCH_STORM		4000
#define BENCH_MAX_POOLS		1000
/* one storm mapping: one slot */
#define BENCH_SLOT		2048
/* one fill mapping: a whole segment of 128 slots of 2 KiB */
#define BENCH_SEG		(128 * 2048)
#define BENCH_MAX_FILL		8192

static struct device *bench_dev;
/* fill mappings of bench_fill(): segments first, then single slots */
static dma_addr_t *bench_fill_addr;
static int bench_nfill, bench_nseg;

/*
 * Is the mapping at @addr in the newest transient pool of the device,
 * i.e. did mapping it make a transient pool?  Each transient pool holds
 * one mapping and is added at the head of dev->dma_io_tlb_pools.
 */
static bool bench_transient(dma_addr_t addr)
{
	phys_addr_t phys = dma_to_phys(bench_dev, addr);
	struct io_tlb_pool *pool;
	bool ret;

	rcu_read_lock();
	pool = list_first_or_null_rcu(&bench_dev->dma_io_tlb_pools,
				      struct io_tlb_pool, node);
	ret = pool && phys >= pool->start && phys < pool->end;
	rcu_read_unlock();
	return ret;
}

static int bench_count_transient(void)
{
	struct io_tlb_pool *pool;
	int n = 0;

	rcu_read_lock();
	list_for_each_entry_rcu(pool, &bench_dev->dma_io_tlb_pools, node)
		n++;
	rcu_read_unlock();
	return n;
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

static bool bench_fill_add(dma_addr_t a)
{
	if (bench_nfill >= BENCH_MAX_FILL)
		return false;
	bench_fill_addr[bench_nfill++] = a;
	return true;
}

/*
 * Fill every free slot of every regular pool with preemption disabled, so
 * that no pool is added meanwhile: whole segments until one has to go to a
 * transient pool (which is unmapped again), then single slots until one
 * has to, which is @tr[0].  Then make @n - 1 more one-slot mappings, each
 * in a transient pool of its own.  Leaves preemption disabled; returns how
 * many of the @n transient mappings were made and sets *@filled to the
 * slots the fill took.
 */
static int bench_fill(void *seg, void *small, dma_addr_t *tr, int n,
		      long *filled)
{
	dma_addr_t a;
	int i;

	flush_work(&bench_dev->dma_io_tlb_mem->dyn_alloc);
	bench_nfill = 0;
	bench_nseg = 0;
	*filled = 0;
	preempt_disable();
	for (;;) {
		a = dma_map_single(bench_dev, seg, BENCH_SEG, DMA_TO_DEVICE);
		if (dma_mapping_error(bench_dev, a))
			break;
		/* no whole segment was left: the rest goes slot by slot */
		if (bench_transient(a)) {
			dma_unmap_single(bench_dev, a, BENCH_SEG, DMA_TO_DEVICE);
			break;
		}
		if (!bench_fill_add(a)) {
			dma_unmap_single(bench_dev, a, BENCH_SEG, DMA_TO_DEVICE);
			return 0;
		}
		bench_nseg++;
		*filled += BENCH_SEG / BENCH_SLOT;
	}
	for (i = 0; i < n; ) {
		tr[i] = dma_map_single(bench_dev, small, 64, DMA_TO_DEVICE);
		if (dma_mapping_error(bench_dev, tr[i]))
			break;
		if (bench_transient(tr[i])) {
			i++;
			continue;
		}
		/* room in a regular pool: one more fill mapping */
		if (!bench_fill_add(tr[i])) {
			dma_unmap_single(bench_dev, tr[i], 64, DMA_TO_DEVICE);
			break;
		}
		(*filled)++;
	}
	return i;
}

static void bench_unfill(void)
{
	while (bench_nfill--)
		dma_unmap_single(bench_dev, bench_fill_addr[bench_nfill],
				 bench_nfill < bench_nseg ? BENCH_SEG : 64,
				 DMA_TO_DEVICE);
}

static int bench_pools(int n, void *seg, void *small, dma_addr_t *tr,
		       u64 *sync_ns, u64 *unmap_ns, long *filled)
{
	int made, i;
	u64 t0;

	made = bench_fill(seg, small, tr, n, filled);
	preempt_enable();
	if (made < n) {
		for (i = 0; i < made; i++)
			dma_unmap_single(bench_dev, tr[i], 64, DMA_TO_DEVICE);
		bench_unfill();
		pr_err("only %d of %d transient mappings (%d fill mappings)\n",
		       made, n, bench_nfill);
		return -ENOMEM;
	}

	/* tr[0]: the oldest transient pool, the last one the list walk reaches */
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

	bench_unfill();
	return 0;
}

struct bench_storm {
	u64 map_ns, unmap_ns;
	long pool_slots;
	int transient, failed;
};

static void bench_storm(void *buf, dma_addr_t *a, struct bench_storm *s)
{
	unsigned long flags;
	u64 t0, t1;
	int i;

	s->pool_slots = READ_ONCE(bench_dev->dma_io_tlb_mem->nslabs);
	s->failed = 0;
	local_irq_save(flags);
	t0 = ktime_get_ns();
	for (i = 0; i < BENCH_STORM; i++) {
		a[i] = dma_map_single(bench_dev, buf, BENCH_SLOT,
				      DMA_TO_DEVICE);
		if (dma_mapping_error(bench_dev, a[i]))
			s->failed++;
	}
	t1 = ktime_get_ns();
	s->transient = bench_count_transient();
	for (i = 0; i < BENCH_STORM; i++)
		if (!dma_mapping_error(bench_dev, a[i]))
			dma_unmap_single(bench_dev, a[i], BENCH_SLOT,
					 DMA_TO_DEVICE);
	s->unmap_ns = ktime_get_ns() - t1;
	local_irq_restore(flags);
	s->map_ns = t1 - t0;
}

static int __init swiotlb_bench_init(void)
{
	static const int npools[] = { 1, 32, BENCH_MAX_POOLS };
	u64 one_page, sync_ns[3] = {}, unmap_ns[3] = {};
	long filled[3] = {};
	struct platform_device *pdev;
	struct bench_storm storm;
	void *page, *seg, *small;
	dma_addr_t *tr;
	int i, ret;

	pdev = platform_device_register_simple(KBUILD_MODNAME, -1, NULL, 0);
	if (IS_ERR(pdev))
		return PTR_ERR(pdev);
	bench_dev = &pdev->dev;
	ret = dma_coerce_mask_and_coherent(bench_dev, DMA_BIT_MASK(64));
	page = kmalloc(PAGE_SIZE, GFP_KERNEL);
	seg = kmalloc(BENCH_SEG, GFP_KERNEL);
	small = kmalloc(BENCH_SLOT, GFP_KERNEL);
	bench_fill_addr = vmalloc(array_size(BENCH_MAX_FILL,
					     sizeof(*bench_fill_addr)));
	tr = vmalloc(array_size(BENCH_STORM, sizeof(*tr)));
	if (ret || !page || !seg || !small || !bench_fill_addr || !tr) {
		ret = ret ?: -ENOMEM;
		goto out;
	}

	one_page = bench_one_page(page);
	/* first, while the pools are as the module found them */
	bench_storm(small, tr, &storm);
	for (i = 0; i < ARRAY_SIZE(npools); i++) {
		ret = bench_pools(npools[i], seg, small, tr, &sync_ns[i],
				  &unmap_ns[i], &filled[i]);
		if (ret)
			goto out;
	}

	pr_info("one_page_ns=%llu storm_pool_slots=%ld storm_ns=%llu storm_map_ns=%llu storm_unmap_ns=%llu storm_transient=%d storm_failed=%d sync_ns_1=%llu sync_ns_32=%llu sync_ns_1000=%llu unmap_ns_1=%llu unmap_ns_32=%llu unmap_ns_1000=%llu fill_slots_1=%ld fill_slots_32=%ld fill_slots_1000=%ld\n",
		one_page, storm.pool_slots, storm.map_ns + storm.unmap_ns,
		storm.map_ns, storm.unmap_ns, storm.transient, storm.failed,
		sync_ns[0], sync_ns[1], sync_ns[2], unmap_ns[0], unmap_ns[1],
		unmap_ns[2], filled[0], filled[1], filled[2]);
	ret = -ENODEV;
out:
	vfree(tr);
	vfree(bench_fill_addr);
	kfree(small);
	kfree(seg);
	kfree(page);
	platform_device_unregister(pdev);
	return ret;
}
module_init(swiotlb_bench_init);

MODULE_DESCRIPTION("swiotlb lookup, transient pool and storm benchmark");
MODULE_LICENSE("GPL");
