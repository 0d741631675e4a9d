// SPDX-License-Identifier: GPL-2.0
/*
 * Interrupt delivery through VFIO_DEVICE_SET_IRQS eventfds: INTx as a
 * level with automasking, MSI as an edge, the loopback DATA_NONE and
 * DATA_BOOL forms, and the errno for each malformed SET_IRQS.
 */
#include <linux/pci_regs.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "ktap.h"
#include "mdev_util.h"

/* Every test runs on type1 and, where the kernel has it, iommufd. */
KTAP_BACKENDS(KTAP_BOTH);

#define INTX	VFIO_PCI_INTX_IRQ_INDEX
#define MSI	VFIO_PCI_MSI_IRQ_INDEX
#define TRIGGER	VFIO_IRQ_SET_ACTION_TRIGGER
#define MASK	VFIO_IRQ_SET_ACTION_MASK
#define UNMASK	VFIO_IRQ_SET_ACTION_UNMASK
#define NONE	VFIO_IRQ_SET_DATA_NONE
#define BOOL	VFIO_IRQ_SET_DATA_BOOL
#define EVENTFD	VFIO_IRQ_SET_DATA_EVENTFD

/* Long enough that a missed interrupt is not a slow one under TCG. */
#define WAIT_MS		2000
#define QUIET_MS	200

static void raise_soft(struct vfio_dev *d)
{
	bar0_write(d, REFMDEV_REG_INT_RAISE, 4, REFMDEV_INT_SOFT);
}

static void clear_soft(struct vfio_dev *d)
{
	bar0_write(d, REFMDEV_REG_INT_STATUS, 4, REFMDEV_INT_SOFT);
}

static struct vfio_dev *open_with_mask(const char *type)
{
	struct vfio_dev *d = vfio_open(mdev_create(type));

	bar0_write(d, REFMDEV_REG_INT_MASK, 4, REFMDEV_INT_SOFT);
	return d;
}

TEST(int_status_registers)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));

	raise_soft(d);
	ASSERT_EQ(bar0_read(d, REFMDEV_REG_INT_STATUS, 4), REFMDEV_INT_SOFT);
	/* Undefined sources cannot be raised or enabled. */
	bar0_write(d, REFMDEV_REG_INT_RAISE, 4, 0xffffffff);
	bar0_write(d, REFMDEV_REG_INT_MASK, 4, 0xffffffff);
	ASSERT_EQ(bar0_read(d, REFMDEV_REG_INT_STATUS, 4), REFMDEV_INT_ALL);
	ASSERT_EQ(bar0_read(d, REFMDEV_REG_INT_MASK, 4), REFMDEV_INT_ALL);
	/* Write one to clear; zero bits leave status alone. */
	bar0_write(d, REFMDEV_REG_INT_STATUS, 4, 0);
	ASSERT_EQ(bar0_read(d, REFMDEV_REG_INT_STATUS, 4), REFMDEV_INT_ALL);
	bar0_write(d, REFMDEV_REG_INT_STATUS, 4, REFMDEV_INT_ALL & ~REFMDEV_INT_SOFT);
	ASSERT_EQ(bar0_read(d, REFMDEV_REG_INT_STATUS, 4), REFMDEV_INT_SOFT);
	clear_soft(d);
	ASSERT_EQ(bar0_read(d, REFMDEV_REG_INT_STATUS, 4), 0);
}

TEST(intx_level_and_automask)
{
	struct vfio_dev *d = open_with_mask(TYPE_1M);
	int efd = new_eventfd();

	ASSERT_OK(irq_set_eventfd(d, INTX, efd));
	raise_soft(d);
	ASSERT_EQ(eventfd_wait(efd, WAIT_MS), 1);
	/* Automasked: raising again while masked sends nothing. */
	raise_soft(d);
	ASSERT_EQ(eventfd_wait(efd, QUIET_MS), 0);
	/* Unmask while the level is still high: asserted again. */
	ASSERT_OK(irq_set(d, INTX, UNMASK | NONE, 0, 1, NULL, 0));
	ASSERT_EQ(eventfd_wait(efd, WAIT_MS), 1);
	/* Serviced properly: clear, then unmask; nothing more. */
	clear_soft(d);
	ASSERT_OK(irq_set(d, INTX, UNMASK | NONE, 0, 1, NULL, 0));
	ASSERT_EQ(eventfd_wait(efd, QUIET_MS), 0);
	raise_soft(d);
	ASSERT_EQ(eventfd_wait(efd, WAIT_MS), 1);
}

TEST(intx_user_mask)
{
	struct vfio_dev *d = open_with_mask(TYPE_1M);
	int efd = new_eventfd();
	__u8 yes = 1, no = 0;

	ASSERT_OK(irq_set_eventfd(d, INTX, efd));
	ASSERT_OK(irq_set(d, INTX, MASK | NONE, 0, 1, NULL, 0));
	raise_soft(d);
	ASSERT_EQ(eventfd_wait(efd, QUIET_MS), 0);
	/* DATA_BOOL false is a no-op; true unmasks. */
	ASSERT_OK(irq_set(d, INTX, UNMASK | BOOL, 0, 1, &no, 1));
	ASSERT_EQ(eventfd_wait(efd, QUIET_MS), 0);
	ASSERT_OK(irq_set(d, INTX, UNMASK | BOOL, 0, 1, &yes, 1));
	ASSERT_EQ(eventfd_wait(efd, WAIT_MS), 1);
}

/* Signal an eventfd as KVM's resampler would. */
static void kick(int fd)
{
	__u64 one = 1;

	ASSERT_EQ(write(fd, &one, sizeof(one)), sizeof(one));
}

/*
 * The unmask eventfd QEMU hands over under KVM: signalling it unmasks
 * INTx as ACTION_UNMASK would, so a line still high asserts again. It
 * needs INTx on, goes with INTx off, and -1 removes it.
 */
TEST(intx_unmask_eventfd)
{
	struct vfio_dev *d = open_with_mask(TYPE_1M);
	int efd = new_eventfd(), unmask = new_eventfd();
	__s32 off = -1;

	ASSERT_ERRNO(irq_set(d, INTX, UNMASK | EVENTFD, 0, 1, &unmask, 4),
		     EINVAL);
	ASSERT_OK(irq_set_eventfd(d, INTX, efd));
	ASSERT_OK(irq_set(d, INTX, UNMASK | EVENTFD, 0, 1, &unmask, 4));
	/* One at a time, as on vfio-pci. */
	ASSERT_ERRNO(irq_set(d, INTX, UNMASK | EVENTFD, 0, 1, &unmask, 4),
		     EBUSY);

	raise_soft(d);
	ASSERT_EQ(eventfd_wait(efd, WAIT_MS), 1);
	ASSERT_EQ(eventfd_wait(efd, QUIET_MS), 0);	/* automasked */
	kick(unmask);					/* still high */
	ASSERT_EQ(eventfd_wait(efd, WAIT_MS), 1);
	clear_soft(d);
	kick(unmask);					/* serviced */
	ASSERT_EQ(eventfd_wait(efd, QUIET_MS), 0);
	raise_soft(d);
	ASSERT_EQ(eventfd_wait(efd, WAIT_MS), 1);

	/* Removed: kicks do nothing, and a new one can be set. */
	ASSERT_OK(irq_set(d, INTX, UNMASK | EVENTFD, 0, 1, &off, 4));
	kick(unmask);
	ASSERT_EQ(eventfd_wait(efd, QUIET_MS), 0);
	/*
	 * Nobody consumed that kick; a new unmask eventfd acts on what is
	 * already pending in it (vfio's virqfd does), so drain it first to
	 * count exactly one assertion per kick below.
	 */
	ASSERT_EQ(eventfd_wait(unmask, QUIET_MS), 1);
	ASSERT_OK(irq_set(d, INTX, UNMASK | EVENTFD, 0, 1, &unmask, 4));
	kick(unmask);
	ASSERT_EQ(eventfd_wait(efd, WAIT_MS), 1);

	/* INTx off takes it along: on again, kicks do nothing. */
	ASSERT_OK(irq_set(d, INTX, TRIGGER | NONE, 0, 0, NULL, 0));
	ASSERT_OK(irq_set_eventfd(d, INTX, efd));
	ASSERT_EQ(eventfd_wait(efd, WAIT_MS), 1);	/* still pending */
	kick(unmask);
	ASSERT_EQ(eventfd_wait(efd, QUIET_MS), 0);
	/* Closing the device with one set is clean too (vfio_open's defer). */
	ASSERT_OK(irq_set(d, INTX, UNMASK | EVENTFD, 0, 1, &unmask, 4));
}

TEST(intx_disable_bit_gates_the_line)
{
	struct vfio_dev *d = open_with_mask(TYPE_1M);
	int efd = new_eventfd();

	ASSERT_OK(irq_set_eventfd(d, INTX, efd));
	cfg_write(d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_INTX_DISABLE);
	raise_soft(d);
	ASSERT_EQ(eventfd_wait(efd, QUIET_MS), 0);
	cfg_write(d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	ASSERT_EQ(eventfd_wait(efd, WAIT_MS), 1);
}

TEST(intx_int_mask_register_gates_sources)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	int efd = new_eventfd();

	ASSERT_OK(irq_set_eventfd(d, INTX, efd));
	raise_soft(d);			/* source not enabled in INT_MASK */
	ASSERT_EQ(eventfd_wait(efd, QUIET_MS), 0);
	bar0_write(d, REFMDEV_REG_INT_MASK, 4, REFMDEV_INT_SOFT);
	ASSERT_EQ(eventfd_wait(efd, WAIT_MS), 1);
}

TEST(intx_loopback_trigger)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	int efd = new_eventfd();
	__u8 yes = 1;

	ASSERT_OK(irq_set_eventfd(d, INTX, efd));
	ASSERT_OK(irq_set(d, INTX, TRIGGER | NONE, 0, 1, NULL, 0));
	ASSERT_EQ(eventfd_wait(efd, WAIT_MS), 1);
	/* Like a real assertion, it automasks. */
	ASSERT_OK(irq_set(d, INTX, TRIGGER | BOOL, 0, 1, &yes, 1));
	ASSERT_EQ(eventfd_wait(efd, QUIET_MS), 0);
	ASSERT_OK(irq_set(d, INTX, UNMASK | NONE, 0, 1, NULL, 0));
	ASSERT_OK(irq_set(d, INTX, TRIGGER | BOOL, 0, 1, &yes, 1));
	ASSERT_EQ(eventfd_wait(efd, WAIT_MS), 1);
}

TEST(msi_edge)
{
	struct vfio_dev *d = open_with_mask(TYPE_1M);
	int efd = new_eventfd();

	ASSERT_OK(irq_set_eventfd(d, MSI, efd));
	raise_soft(d);
	ASSERT_EQ(eventfd_wait(efd, WAIT_MS), 1);
	/* Still pending: no new edge, no new message. */
	raise_soft(d);
	ASSERT_EQ(eventfd_wait(efd, QUIET_MS), 0);
	clear_soft(d);
	raise_soft(d);
	ASSERT_EQ(eventfd_wait(efd, WAIT_MS), 1);
	/* Enabling a pending source in INT_MASK is an edge too. */
	bar0_write(d, REFMDEV_REG_INT_MASK, 4, 0);
	clear_soft(d);
	raise_soft(d);
	ASSERT_EQ(eventfd_wait(efd, QUIET_MS), 0);
	bar0_write(d, REFMDEV_REG_INT_MASK, 4, REFMDEV_INT_SOFT);
	ASSERT_EQ(eventfd_wait(efd, WAIT_MS), 1);
}

TEST(msi_loopback_and_disable)
{
	struct vfio_dev *d = open_with_mask(TYPE_1M);
	int efd = new_eventfd();

	ASSERT_OK(irq_set_eventfd(d, MSI, efd));
	ASSERT_OK(irq_set(d, MSI, TRIGGER | NONE, 0, 1, NULL, 0));
	ASSERT_EQ(eventfd_wait(efd, WAIT_MS), 1);
	ASSERT_OK(irq_set(d, MSI, TRIGGER | NONE, 0, 0, NULL, 0));
	raise_soft(d);
	ASSERT_EQ(eventfd_wait(efd, QUIET_MS), 0);
}

TEST(intx_and_msi_are_exclusive)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	int a = new_eventfd(), b = new_eventfd();

	ASSERT_OK(irq_set_eventfd(d, INTX, a));
	ASSERT_ERRNO(irq_set_eventfd(d, MSI, b), EINVAL);
	ASSERT_OK(irq_set(d, INTX, TRIGGER | NONE, 0, 0, NULL, 0));
	ASSERT_OK(irq_set_eventfd(d, MSI, b));
	ASSERT_ERRNO(irq_set_eventfd(d, INTX, a), EINVAL);
	/* Setting fd -1 turns MSI off, after which INTx can be had. */
	ASSERT_OK(irq_set_eventfd(d, MSI, -1));
	ASSERT_OK(irq_set_eventfd(d, INTX, a));
}

/* What a bad SET_IRQS row passes after the header. */
enum irq_data {
	NO_DATA,
	ONE_EVENTFD,		/* an eventfd, 4 bytes */
	TWO_EVENTFDS,		/* the same eventfd twice, 8 bytes */
	FD_MINUS_2,		/* -2: not even "leave as is" (-1) */
	FD_1000,		/* not open */
	FD_DEVICE,		/* a file, but not an eventfd */
	ARGSZ_8,		/* argsz too short for the header */
	ARGSZ_NO_DATA,		/* the header only, though flags announce data */
};

FIXTURE(bad_set_irqs) {
	struct vfio_dev *d;
	int efd;
};

FIXTURE_VARIANT(bad_set_irqs) {
	const char *name;
	unsigned int index;
	__u32 flags, start, count;
	enum irq_data data;
	int err;
};

/* One result per malformed VFIO_DEVICE_SET_IRQS, each with its errno. */
static const FIXTURE_VARIANT(bad_set_irqs) bad_set_irqs[] = {
	/* Indexes that do not exist or have no vectors. */
	{ "index past the last", VFIO_PCI_NUM_IRQS, TRIGGER | NONE, 0, 1,
	  NO_DATA, EINVAL },
	{ "MSI-X, no vectors", VFIO_PCI_MSIX_IRQ_INDEX, TRIGGER | NONE, 0, 1,
	  NO_DATA, EINVAL },
	{ "ERR count 2", VFIO_PCI_ERR_IRQ_INDEX, TRIGGER | NONE, 0, 2,
	  NO_DATA, EINVAL },
	/* start/count outside the index, or overflowing. */
	{ "INTx start 1", INTX, TRIGGER | NONE, 1, 1, NO_DATA, EINVAL },
	{ "INTx count 2", INTX, TRIGGER | EVENTFD, 0, 2, TWO_EVENTFDS, EINVAL },
	{ "MSI start + count wraps", MSI, TRIGGER | NONE, 0xffffffff, 2,
	  NO_DATA, EINVAL },
	/* Flags: unknown bits, two actions, two data types, no action. */
	{ "unknown flag bit 9", INTX, TRIGGER | NONE | (1u << 9), 0, 1,
	  NO_DATA, EINVAL },
	{ "two actions", INTX, MASK | UNMASK | NONE, 0, 1, NO_DATA, EINVAL },
	{ "two data types", INTX, TRIGGER | NONE | BOOL, 0, 1, NO_DATA,
	  EINVAL },
	{ "no action", INTX, NONE, 0, 1, NO_DATA, EINVAL },
	/* count 0 is only the "disable" form. */
	{ "count 0 with MASK", INTX, MASK | NONE, 0, 0, NO_DATA, EINVAL },
	/* argsz too short for the header, or for the data it announces. */
	{ "argsz 8", INTX, TRIGGER | NONE, 0, 1, ARGSZ_8, EINVAL },
	{ "argsz without the eventfd", INTX, TRIGGER | EVENTFD, 0, 1,
	  ARGSZ_NO_DATA, EINVAL },
	/* Actions an index does not support: ENOTTY, as vfio-pci. */
	{ "MSI MASK", MSI, MASK | NONE, 0, 1, NO_DATA, ENOTTY },
	{ "MSI UNMASK", MSI, UNMASK | NONE, 0, 1, NO_DATA, ENOTTY },
	{ "REQ MASK", VFIO_PCI_REQ_IRQ_INDEX, MASK | NONE, 0, 1, NO_DATA,
	  ENOTTY },
	{ "ERR UNMASK", VFIO_PCI_ERR_IRQ_INDEX, UNMASK | NONE, 0, 1, NO_DATA,
	  ENOTTY },
	/* No eventfd-driven masking; an unmask eventfd needs INTx on. */
	{ "INTx MASK eventfd", INTX, MASK | EVENTFD, 0, 1, ONE_EVENTFD,
	  EINVAL },
	{ "INTx UNMASK eventfd with INTx off", INTX, UNMASK | EVENTFD, 0, 1,
	  ONE_EVENTFD, EINVAL },
	/* Bad descriptors. */
	{ "eventfd -2", INTX, TRIGGER | EVENTFD, 0, 1, FD_MINUS_2, EINVAL },
	{ "eventfd not open", INTX, TRIGGER | EVENTFD, 0, 1, FD_1000, EBADF },
	{ "eventfd not an eventfd", INTX, TRIGGER | EVENTFD, 0, 1, FD_DEVICE,
	  EINVAL },
};

FIXTURE_VARIANT_TABLE(bad_set_irqs, bad_set_irqs);

FIXTURE_SETUP(bad_set_irqs)
{
	self->d = vfio_open(mdev_create(TYPE_1M));
	self->efd = new_eventfd();
}

FIXTURE_TEARDOWN(bad_set_irqs)
{
}

TEST_F(bad_set_irqs, exact_errno)
{
	struct vfio_irq_set hdr = {
		.argsz = sizeof(hdr), .flags = variant->flags,
		.index = variant->index, .start = variant->start,
		.count = variant->count,
	};
	int fds[2] = { self->efd, self->efd };
	struct vfio_dev *d = self->d;
	size_t len = 4;

	if (variant->data == ARGSZ_8 || variant->data == ARGSZ_NO_DATA) {
		if (variant->data == ARGSZ_8)
			hdr.argsz = 8;
		ASSERT_ERRNO(ioctl(d->device, VFIO_DEVICE_SET_IRQS, &hdr),
			     variant->err);
	} else if (variant->data == NO_DATA) {
		ASSERT_ERRNO(irq_set(d, variant->index, variant->flags,
				     variant->start, variant->count, NULL, 0),
			     variant->err);
	} else {
		if (variant->data == TWO_EVENTFDS)
			len = sizeof(fds);
		else if (variant->data == FD_MINUS_2)
			fds[0] = -2;
		else if (variant->data == FD_1000)
			fds[0] = 1000;
		else if (variant->data == FD_DEVICE)
			fds[0] = d->device;
		ASSERT_ERRNO(irq_set(d, variant->index, variant->flags,
				     variant->start, variant->count, fds, len),
			     variant->err);
	}
	/* None of this enabled anything. */
	ASSERT_OK(irq_set_eventfd(d, MSI, self->efd));
}

/*
 * REQ and ERR each hold one eventfd, fired by loopback (DATA_NONE, or
 * DATA_BOOL true) and removed by count 0; neither touches the other.
 */
static void notifier_loopback(struct vfio_dev *d, unsigned int index,
			      unsigned int other)
{
	int efd = new_eventfd(), other_efd = new_eventfd();
	__u8 no = 0, yes = 1;

	ASSERT_OK(irq_set_eventfd(d, index, efd));
	ASSERT_OK(irq_set_eventfd(d, other, other_efd));
	ASSERT_OK(irq_set(d, index, TRIGGER | NONE, 0, 1, NULL, 0));
	ASSERT_EQ(eventfd_wait(efd, WAIT_MS), 1);
	ASSERT_OK(irq_set(d, index, TRIGGER | BOOL, 0, 1, &no, 1));
	ASSERT_EQ(eventfd_wait(efd, QUIET_MS), 0);
	ASSERT_OK(irq_set(d, index, TRIGGER | BOOL, 0, 1, &yes, 1));
	ASSERT_EQ(eventfd_wait(efd, WAIT_MS), 1);
	ASSERT_EQ(eventfd_wait(other_efd, QUIET_MS), 0);
	ASSERT_OK(irq_set(d, index, TRIGGER | NONE, 0, 0, NULL, 0));
	ASSERT_OK(irq_set(d, index, TRIGGER | NONE, 0, 1, NULL, 0));
	ASSERT_EQ(eventfd_wait(efd, QUIET_MS), 0);
	/* The other index still has its eventfd. */
	ASSERT_OK(irq_set(d, other, TRIGGER | NONE, 0, 1, NULL, 0));
	ASSERT_EQ(eventfd_wait(other_efd, WAIT_MS), 1);
}

TEST(request_loopback)
{
	notifier_loopback(vfio_open(mdev_create(TYPE_1M)),
			  VFIO_PCI_REQ_IRQ_INDEX, VFIO_PCI_ERR_IRQ_INDEX);
}

/*
 * ERR is there for QEMU's error recovery (see mdev/irq.c): nothing in
 * the device signals it, the user's loopback does.
 */
TEST(error_loopback)
{
	notifier_loopback(vfio_open(mdev_create(TYPE_1M)),
			  VFIO_PCI_ERR_IRQ_INDEX, VFIO_PCI_REQ_IRQ_INDEX);
}

TEST(eventfds_released_on_close)
{
	const char *uuid = mdev_create(TYPE_1M);
	struct vfio_dev d;
	int efd = new_eventfd();

	ASSERT_EQ(vfio_open_raw(uuid, &d), 0);
	ASSERT_OK(irq_set_eventfd(&d, MSI, efd));
	ASSERT_OK(irq_set_eventfd(&d, VFIO_PCI_ERR_IRQ_INDEX, efd));
	vfio_close(&d);
	/* A new user starts with no interrupts configured. */
	ASSERT_EQ(vfio_open_raw(uuid, &d), 0);
	ASSERT_OK(irq_set(&d, VFIO_PCI_ERR_IRQ_INDEX, TRIGGER | NONE, 0, 1,
			  NULL, 0));
	bar0_write(&d, REFMDEV_REG_INT_MASK, 4, REFMDEV_INT_SOFT);
	raise_soft(&d);
	ASSERT_EQ(eventfd_wait(efd, QUIET_MS), 0);
	ASSERT_OK(irq_set_eventfd(&d, INTX, efd));
	ASSERT_EQ(eventfd_wait(efd, WAIT_MS), 1);
	vfio_close(&d);
}

struct unmask_race {
	struct vfio_dev *d;
	pthread_barrier_t start, done;
	int unmask;		/* the eventfd thread A installs */
	int rounds;
};

/* A busy wait of @n steps, to move one side of a race against the other. */
static void spin(unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		__atomic_signal_fence(__ATOMIC_SEQ_CST);	/* not optimised out */
}

/*
 * Thread A: install the unmask eventfd, INTx on or going off; each round
 * starts a little later or earlier against the other thread.
 */
static void *install_unmask(void *p)
{
	struct unmask_race *r = p;
	int i;

	for (i = 0; i < r->rounds; i++) {
		pthread_barrier_wait(&r->start);
		if (i & 1)
			spin((i / 2 % 64) * 64);
		irq_set(r->d, INTX, UNMASK | EVENTFD, 0, 1, &r->unmask, 4);
		pthread_barrier_wait(&r->done);
	}
	return NULL;
}

/*
 * Installing the unmask eventfd races turning INTx off. Whichever comes
 * first, INTx ends off, so the unmask eventfd must end gone: the next
 * user of INTx can install its own (no EBUSY), and the old one's kicks
 * do nothing.
 */
TEST(intx_unmask_eventfd_races_intx_off)
{
	struct unmask_race r = { .d = open_with_mask(TYPE_1M), .rounds = 2000 };
	int efd = new_eventfd(), fresh = new_eventfd(), i, ret;
	__s32 off = -1;
	pthread_t t;

	r.unmask = new_eventfd();
	ASSERT_EQ(pthread_barrier_init(&r.start, NULL, 2), 0);
	ASSERT_EQ(pthread_barrier_init(&r.done, NULL, 2), 0);
	ASSERT_EQ(pthread_create(&t, NULL, install_unmask, &r), 0);
	for (i = 0; i < r.rounds; i++) {
		ASSERT_OK(irq_set_eventfd(r.d, INTX, efd));
		pthread_barrier_wait(&r.start);
		if (!(i & 1))
			spin((i / 2 % 64) * 64);
		ASSERT_OK(irq_set(r.d, INTX, TRIGGER | NONE, 0, 0, NULL, 0));
		pthread_barrier_wait(&r.done);

		/* INTx is off: nothing of the unmask eventfd may be left. */
		ASSERT_OK(irq_set_eventfd(r.d, INTX, efd));
		ret = irq_set(r.d, INTX, UNMASK | EVENTFD, 0, 1, &fresh, 4);
		if (ret)
			FAIL("round %d: a new unmask eventfd: %s (one survived INTx off)",
			     i, strerror(-ret));
		ASSERT_OK(irq_set(r.d, INTX, UNMASK | EVENTFD, 0, 1, &off, 4));
		ASSERT_OK(irq_set(r.d, INTX, TRIGGER | NONE, 0, 0, NULL, 0));
	}
	ASSERT_EQ(pthread_join(t, NULL), 0);
	pthread_barrier_destroy(&r.start);
	pthread_barrier_destroy(&r.done);
}
