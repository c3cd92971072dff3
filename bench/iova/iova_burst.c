// SPDX-License-Identifier: GPL-2.0
/*
 * iova_burst - how an IOVA domain's range cache absorbs a burst of frees,
 * and how much of it the cache gives back afterwards.
 *
 * Everything happens in module_init: a private domain is set up, N IOVAs of
 * one granule are allocated, freed, allocated again and freed again on one
 * CPU, then the domain is watched while it is idle. One result line is
 * printed with pr_info(), and loading then fails with -ENODEV on purpose, so
 * the module never stays loaded and can be loaded again for another run.
 *
 * Only the public API of <linux/iova.h> is used. What the cache holds is
 * read off the domain's rbtree: an IOVA kept in a magazine is still a node
 * of the rbtree, and one the cache could not keep is removed from it. So on
 * a free, every node that disappears is a free that missed the cache, and
 * on an allocation, every node that appears is one the cache could not
 * serve.
 *
 * N is 102 magazines' worth of IOVAs. One CPU holds two magazines, so a
 * burst of N frees leaves 100 full magazines for the depot: more than the
 * 32 that a fixed depot takes, and all of which an unbounded one takes.
 *
 * Result line (all integers; times are totals for all N operations):
 *   n= burst_alloc_ns= free_ns= slow_frees= cached= realloc_ns=
 *   slow_allocs= reclaim_ms= released= final_nodes= settled=
 *   cached_1s= cached_3s= cached_10s=
 * reclaim_ms is the time from the end of the second free to the last change
 * of the node count (0: it never changed), released is how many nodes went
 * away in that time, final_nodes what was left, and settled is 1 if the
 * count then stayed put for BURST_QUIET_MS, 0 if the watch ran out first.
 * cached_Ns is the node count N seconds into the idle watch: after the
 * second free every IOVA is free, so each node left is one still cached.
 * The watch lasts at least BURST_SAMPLE_MS, so that all three are taken.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/dma-mapping.h>
#include <linux/iova.h>
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/preempt.h>
#include <linux/rbtree.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

/* IOVA_MAG_SIZE, private to drivers/iommu/iova.c; 127 in all our trees */
#define BURST_MAG_SIZE		127
#define BURST_MAGS		102
#define BURST_N			(BURST_MAGS * BURST_MAG_SIZE)

/*
 * Watch of the idle domain: poll period, longest watch, quiet to stop.
 * Upstream's reclaim (as in 6.12) frees one magazine every 100 ms, down to
 * one per online CPU, so the 99 surplus magazines of a one-CPU guest take
 * over 10 s to go; the longest watch leaves room for that and a slow guest.
 */
#define BURST_POLL_MS		10
#define BURST_WATCH_MS		20000
#define BURST_QUIET_MS		3000
#define BURST_SAMPLE_MS		10000

static struct iova_domain burst_iovad;

/* Number of IOVAs in the domain: rbtree nodes, not counting the anchor */
static unsigned long burst_nodes(struct iova_domain *iovad)
{
	struct rb_node *node;
	unsigned long flags, n = 0;

	spin_lock_irqsave(&iovad->iova_rbtree_lock, flags);
	for (node = rb_first(&iovad->rbroot); node; node = rb_next(node))
		if (node != &iovad->anchor.node)
			n++;
	spin_unlock_irqrestore(&iovad->iova_rbtree_lock, flags);

	return n;
}

/*
 * Allocate BURST_N single-granule IOVAs below 4 GiB into @pfns, and return
 * how long that took in ns, or 0 if the domain ran out (then nothing is
 * left allocated). The caller keeps migration disabled, so that all of it
 * goes through one CPU's magazines.
 */
static u64 burst_alloc(struct iova_domain *iovad, unsigned long *pfns)
{
	unsigned long limit_pfn = DMA_BIT_MASK(32) >> PAGE_SHIFT;
	u64 start, ns;
	int i;

	start = ktime_get_ns();
	for (i = 0; i < BURST_N; i++) {
		pfns[i] = alloc_iova_fast(iovad, 1, limit_pfn, true);
		if (!pfns[i])
			break;
	}
	ns = ktime_get_ns() - start;

	if (i == BURST_N)
		return ns;

	while (i--)
		free_iova_fast(iovad, pfns[i], 1);
	return 0;
}

/* Free what burst_alloc() got, and return how long that took in ns */
static u64 burst_free(struct iova_domain *iovad, const unsigned long *pfns)
{
	u64 start;
	int i;

	start = ktime_get_ns();
	for (i = 0; i < BURST_N; i++)
		free_iova_fast(iovad, pfns[i], 1);

	return ktime_get_ns() - start;
}

/*
 * Watch the idle domain until its node count has not changed for
 * BURST_QUIET_MS, or for BURST_WATCH_MS at most. Returns the time of the
 * last change after the watch started in ns, 0 if there was none; the last
 * count is left in @final, and @settled tells whether it went quiet.
 */
static u64 burst_watch(struct iova_domain *iovad, unsigned long *final,
		       bool *settled, unsigned long sample[3])
{
	static const unsigned int sample_ms[3] = { 1000, 3000, 10000 };
	unsigned long last = burst_nodes(iovad), now;
	u64 start = ktime_get_ns(), changed = 0, t;
	int next = 0;

	*settled = false;
	do {
		msleep(BURST_POLL_MS);
		now = burst_nodes(iovad);
		t = ktime_get_ns() - start;
		while (next < 3 && t >= sample_ms[next] * NSEC_PER_MSEC)
			sample[next++] = now;
		if (now != last) {
			last = now;
			changed = t;
		} else if (t - changed >= BURST_QUIET_MS * NSEC_PER_MSEC &&
			   t >= BURST_SAMPLE_MS * NSEC_PER_MSEC) {
			*settled = true;
			break;
		}
	} while (t < BURST_WATCH_MS * NSEC_PER_MSEC);
	while (next < 3)
		sample[next++] = last;

	*final = last;
	return changed;
}

static int __init iova_burst_init(void)
{
	struct iova_domain *iovad = &burst_iovad;
	unsigned long before_free, after_free, after_realloc, after_free2;
	unsigned long final, sample[3];
	u64 alloc_ns, free_ns, realloc_ns, reclaim_ns;
	unsigned long *pfns;
	bool settled;
	int ret;

	pfns = kvmalloc_array(BURST_N, sizeof(*pfns), GFP_KERNEL);
	if (!pfns)
		return -ENOMEM;

	ret = iova_cache_get();
	if (ret)
		goto out_pfns;

	init_iova_domain(iovad, PAGE_SIZE, 1);
	ret = iova_domain_init_rcaches(iovad);
	if (ret)
		goto out_domain;

	/*
	 * The range caches are per CPU, so the whole burst must stay on one.
	 * Nothing in here sleeps: alloc_iova_fast() allocates with GFP_ATOMIC.
	 */
	migrate_disable();
	ret = -ENOMEM;
	alloc_ns = burst_alloc(iovad, pfns);
	if (!alloc_ns)
		goto out_migrate;
	before_free = burst_nodes(iovad);

	free_ns = burst_free(iovad, pfns);
	after_free = burst_nodes(iovad);

	realloc_ns = burst_alloc(iovad, pfns);
	if (!realloc_ns)
		goto out_migrate;
	after_realloc = burst_nodes(iovad);

	burst_free(iovad, pfns);
	after_free2 = burst_nodes(iovad);
	migrate_enable();

	reclaim_ns = burst_watch(iovad, &final, &settled, sample);

	/*
	 * The differences are printed signed: with more than one CPU, reclaim
	 * work running elsewhere during the burst could make them go negative.
	 */
	pr_info("n=%d burst_alloc_ns=%llu free_ns=%llu slow_frees=%ld cached=%ld realloc_ns=%llu slow_allocs=%ld reclaim_ms=%llu released=%ld final_nodes=%lu settled=%d cached_1s=%lu cached_3s=%lu cached_10s=%lu\n",
		BURST_N, alloc_ns, free_ns,
		(long)(before_free - after_free),
		(long)(BURST_N - (before_free - after_free)),
		realloc_ns, (long)(after_realloc - after_free),
		div_u64(reclaim_ns, NSEC_PER_MSEC),
		(long)(after_free2 - final), final, settled,
		sample[0], sample[1], sample[2]);

	/* Done: fail the load on purpose, so that it never stays loaded */
	ret = -ENODEV;
	goto out_domain;

out_migrate:
	migrate_enable();
	pr_err("IOVA allocation failed\n");
out_domain:
	/* Also frees all IOVAs left in the rbtree and the range caches */
	put_iova_domain(iovad);
	iova_cache_put();
out_pfns:
	kvfree(pfns);
	return ret;
}
module_init(iova_burst_init);

/* No module_exit(): the init above always fails, so it is never loaded */

MODULE_DESCRIPTION("IOVA range cache burst and reclaim benchmark");
MODULE_LICENSE("GPL");
