// SPDX-License-Identifier: GPL-2.0
/*
 * refmdev-info: look at a refmdev mediated device through VFIO.
 *
 * This is reference code for a VFIO user of a PCI-like mdev, the way a
 * VMM or a userspace driver meets one. It walks the legacy container and
 * group interface and then the device interface, one step at a time:
 *
 *   1. the mdev's IOMMU group, a type1 container and the device fd;
 *   2. device info: flags, number of regions and of IRQ indexes;
 *   3. PCI identity and capability list, read from the config region;
 *   4. every region: size, file offset and access flags;
 *   5. every IRQ index: vector count and flags;
 *   6. BAR0 registers, read with pread();
 *   7. BAR2 device memory written through mmap(), read back with pread();
 *   8. an MSI raised by the device and received on an eventfd;
 *   9. VFIO_DEVICE_RESET and what it does to a register.
 *
 * Two habits are worth copying. Every region is reached at the file
 * offset VFIO_DEVICE_GET_REGION_INFO reports, never at a computed one:
 * the layout is the driver's business. And PCI config space and the
 * device's registers are little-endian, so values go through le*toh()
 * and the sample stays right on a big-endian host.
 *
 * The open sequence of step 1 lives in samples/lib/vfio_open.c, shared
 * with the other samples; this one calls its steps one by one.
 *
 * Usage: refmdev-info UUID
 *
 * UUID names an existing mdev, /sys/bus/mdev/devices/UUID, made with e.g.
 *   echo $(uuidgen) > \
 *	/sys/class/mdev_bus/refmdev/mdev_supported_types/refmdev-1M/create
 *
 * Any failure prints "refmdev-info: <step>: <reason>" and exits with 1.
 */

/* Region offsets lie above 4 GiB; keep off_t 64-bit on 32-bit hosts too. */
#define _FILE_OFFSET_BITS 64

#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdnoreturn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/pci_regs.h>
#include <linux/refmdev.h>
#include <linux/types.h>
#include <linux/vfio.h>

#include "vfio_open.h"

#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))

/* A list with more entries than fit in 192 bytes must loop. */
#define CFG_MAX_CAPS	((PCI_CFG_SPACE_SIZE - PCI_STD_HEADER_SIZEOF) / 4)

#define DEVMEM_TEST_LEN		4096
#define MSI_TIMEOUT_MS		5000
#define SCRATCH_TEST_VALUE	0x12345678u

/* What the sample keeps open, and the regions it uses after step 4. */
struct refmdev_vfio {
	struct vfio_mdev vm;
	struct vfio_device_info info;
	struct vfio_region_info config;
	struct vfio_region_info bar0;
	struct vfio_region_info bar2;
};

struct flag_name {
	__u32 bit;
	const char *name;
};

static const struct flag_name device_flag_names[] = {
	{ VFIO_DEVICE_FLAGS_PCI, "PCI" },
	{ VFIO_DEVICE_FLAGS_RESET, "RESET" },
};

static const struct flag_name region_flag_names[] = {
	{ VFIO_REGION_INFO_FLAG_READ, "R" },
	{ VFIO_REGION_INFO_FLAG_WRITE, "W" },
	{ VFIO_REGION_INFO_FLAG_MMAP, "MMAP" },
};

static const struct flag_name irq_flag_names[] = {
	{ VFIO_IRQ_INFO_EVENTFD, "EVENTFD" },
	{ VFIO_IRQ_INFO_MASKABLE, "MASKABLE" },
	{ VFIO_IRQ_INFO_AUTOMASKED, "AUTOMASKED" },
	{ VFIO_IRQ_INFO_NORESIZE, "NORESIZE" },
};

/*
 * One "name value" line, names padded so that the values line up. A
 * macro rather than a function so that the compiler checks the format
 * string against its arguments.
 */
#define field(name, fmt, ...)	printf("  %-25s" fmt "\n", name, ##__VA_ARGS__)

/* A sample has nothing to recover: say which step failed, and stop. */
static noreturn void fail(const char *step, int err)
{
	/* Keep what stdout has printed so far ahead of the error. */
	fflush(stdout);
	fprintf(stderr, "refmdev-info: %s: %s\n", step, strerror(err));
	exit(EXIT_FAILURE);
}

/* The names of the known bits set in @flags, e.g. "R W MMAP"; "-" if none. */
static const char *flag_names(char *buf, size_t size, __u32 flags,
			      const struct flag_name *names, size_t count)
{
	size_t i;

	buf[0] = '\0';
	for (i = 0; i < count; i++) {
		if (!(flags & names[i].bit))
			continue;
		if (buf[0])
			strncat(buf, " ", size - strlen(buf) - 1);
		strncat(buf, names[i].name, size - strlen(buf) - 1);
	}
	return buf[0] ? buf : "-";
}

/*
 * Region access. A VFIO region is read and written like a file, at its
 * offset in the device fd. Every access here is one register or one
 * buffer, so a short transfer is as much an error as a failed one.
 */
static void region_read(const struct refmdev_vfio *rv,
			const struct vfio_region_info *region, __u64 off,
			void *buf, size_t len, const char *step)
{
	ssize_t ret = pread(rv->vm.device, buf, len,
			    (off_t)(region->offset + off));

	if (ret < 0)
		fail(step, errno);
	if ((size_t)ret != len)
		fail(step, EIO);
}

static void region_write(const struct refmdev_vfio *rv,
			 const struct vfio_region_info *region, __u64 off,
			 const void *buf, size_t len, const char *step)
{
	ssize_t ret = pwrite(rv->vm.device, buf, len,
			     (off_t)(region->offset + off));

	if (ret < 0)
		fail(step, errno);
	if ((size_t)ret != len)
		fail(step, EIO);
}

/* Config space takes any size and alignment, like vfio-pci's. */
static void cfg_read(const struct refmdev_vfio *rv, unsigned int off,
		     void *buf, size_t len)
{
	region_read(rv, &rv->config, off, buf, len, "config space read");
}

static __u8 cfg_read8(const struct refmdev_vfio *rv, unsigned int off)
{
	__u8 val;

	cfg_read(rv, off, &val, sizeof(val));
	return val;
}

static __u16 cfg_read16(const struct refmdev_vfio *rv, unsigned int off)
{
	__le16 val;

	cfg_read(rv, off, &val, sizeof(val));
	return le16toh(val);
}

static __u32 cfg_read32(const struct refmdev_vfio *rv, unsigned int off)
{
	__le32 val;

	cfg_read(rv, off, &val, sizeof(val));
	return le32toh(val);
}

/*
 * BAR0 registers take only naturally aligned accesses of the register's
 * own width (or narrower), so each width gets its own helper.
 */
static __u32 reg_read32(const struct refmdev_vfio *rv, unsigned int reg,
			const char *step)
{
	__le32 val;

	region_read(rv, &rv->bar0, reg, &val, sizeof(val), step);
	return le32toh(val);
}

static __u64 reg_read64(const struct refmdev_vfio *rv, unsigned int reg,
			const char *step)
{
	__le64 val;

	region_read(rv, &rv->bar0, reg, &val, sizeof(val), step);
	return le64toh(val);
}

static void reg_write32(const struct refmdev_vfio *rv, unsigned int reg,
			__u32 val, const char *step)
{
	__le32 raw = htole32(val);

	region_write(rv, &rv->bar0, reg, &raw, sizeof(raw), step);
}

/*
 * Step 1. An mdev sits alone in an IOMMU group of its own; VFIO hands out
 * devices only through their group, and a group only once it is attached
 * to a container with an IOMMU model set. samples/lib/vfio_open.c has the
 * reasons behind each step; this runs them one at a time to show them.
 */
static void open_device(struct refmdev_vfio *rv, const char *uuid)
{
	struct vfio_mdev *vm = &rv->vm;
	int err;

	vfio_mdev_init(vm);
	err = vfio_mdev_find_group(vm, uuid);
	if (err)
		fail(vm->failed, err);

	printf("VFIO setup:\n");
	field("mdev", "/sys/bus/mdev/devices/%s", uuid);
	field("IOMMU group", "%lu", vm->group_id);

	err = vfio_mdev_open_container(vm);
	if (err)
		fail(vm->failed, err);
	field("VFIO API version", "%d", vm->api_version);

	err = vfio_mdev_check_type1v2(vm);
	if (err)
		fail(vm->failed, err);
	field("type1v2 IOMMU", "supported");

	err = vfio_mdev_open_group(vm);
	if (err)
		fail(vm->failed, err);
	field("group", "/dev/vfio/%lu (viable)", vm->group_id);

	err = vfio_mdev_attach(vm);
	if (err)
		fail(vm->failed, err);
	field("container", "/dev/vfio/vfio (type1v2 IOMMU set)");

	err = vfio_mdev_get_device(vm, uuid);
	if (err)
		fail(vm->failed, err);
	field("device", "%s (fd %d)", uuid, vm->device);
}

/* Step 2. */
static void show_device_info(struct refmdev_vfio *rv)
{
	char names[64];

	memset(&rv->info, 0, sizeof(rv->info));
	rv->info.argsz = sizeof(rv->info);
	if (ioctl(rv->vm.device, VFIO_DEVICE_GET_INFO, &rv->info))
		fail("VFIO_DEVICE_GET_INFO", errno);

	printf("\nDevice info:\n");
	field("flags", "0x%08x (%s)", rv->info.flags,
	      flag_names(names, sizeof(names), rv->info.flags,
			 device_flag_names, ARRAY_SIZE(device_flag_names)));
	field("regions", "%u", rv->info.num_regions);
	field("IRQ indexes", "%u", rv->info.num_irqs);

	/* Region and IRQ index numbers below follow the vfio-pci layout. */
	if (!(rv->info.flags & VFIO_DEVICE_FLAGS_PCI))
		fail("VFIO_DEVICE_GET_INFO: not a PCI device", ENODEV);
}

static const char *cap_name(__u8 id)
{
	switch (id) {
	case PCI_CAP_ID_PM:
		return "Power Management";
	case PCI_CAP_ID_MSI:
		return "MSI";
	case PCI_CAP_ID_VNDR:
		return "Vendor-Specific";
	case PCI_CAP_ID_EXP:
		return "PCI Express";
	case PCI_CAP_ID_MSIX:
		return "MSI-X";
	default:
		return "other";
	}
}

/*
 * Capabilities form a linked list through config space. The list comes
 * from the device, so do not trust it: a cycle or a pointer into the
 * header must not hang or mislead us.
 */
static void show_capabilities(const struct refmdev_vfio *rv)
{
	unsigned int pos, n;

	if (!(cfg_read16(rv, PCI_STATUS) & PCI_STATUS_CAP_LIST)) {
		field("capabilities", "none");
		return;
	}

	/* The low two bits of each pointer are reserved. */
	pos = cfg_read8(rv, PCI_CAPABILITY_LIST) & ~3u;
	for (n = 0; pos && n < CFG_MAX_CAPS; n++) {
		__u8 id, next;

		if (pos < PCI_STD_HEADER_SIZEOF || pos >= PCI_CFG_SPACE_SIZE) {
			field("capability", "bad pointer 0x%02x, list ends",
			      pos);
			return;
		}
		id = cfg_read8(rv, pos + PCI_CAP_LIST_ID);
		next = cfg_read8(rv, pos + PCI_CAP_LIST_NEXT);
		field("capability", "0x%02x at 0x%02x (%s)", id, pos,
		      cap_name(id));
		pos = next & ~3u;
	}
	if (pos)
		field("capability", "more than %d, list ends (a loop?)",
		      CFG_MAX_CAPS);
}

/* Step 3. */
static void show_identity(struct refmdev_vfio *rv)
{
	__u32 class_rev;
	__u8 pin;
	int err;

	err = vfio_mdev_region_info(&rv->vm, VFIO_PCI_CONFIG_REGION_INDEX,
				    &rv->config);
	if (err)
		fail("VFIO_DEVICE_GET_REGION_INFO(CONFIG)", err);

	/* Class code and revision share one dword: class << 8 | revision. */
	class_rev = cfg_read32(rv, PCI_CLASS_REVISION);
	pin = cfg_read8(rv, PCI_INTERRUPT_PIN);

	printf("\nPCI identity (config space):\n");
	field("vendor:device", "%04x:%04x", cfg_read16(rv, PCI_VENDOR_ID),
	      cfg_read16(rv, PCI_DEVICE_ID));
	field("subsystem vendor:device", "%04x:%04x",
	      cfg_read16(rv, PCI_SUBSYSTEM_VENDOR_ID),
	      cfg_read16(rv, PCI_SUBSYSTEM_ID));
	field("class code", "%06x", class_rev >> 8);
	field("revision", "%02x", class_rev & 0xff);
	if (pin >= 1 && pin <= 4)
		field("interrupt pin", "%u (INT%c#)", pin, 'A' + pin - 1);
	else
		field("interrupt pin", "%u (none)", pin);
	show_capabilities(rv);
}

static const char *region_name(unsigned int index)
{
	static const char * const names[] = {
		[VFIO_PCI_BAR0_REGION_INDEX] = "BAR0",
		[VFIO_PCI_BAR1_REGION_INDEX] = "BAR1",
		[VFIO_PCI_BAR2_REGION_INDEX] = "BAR2",
		[VFIO_PCI_BAR3_REGION_INDEX] = "BAR3",
		[VFIO_PCI_BAR4_REGION_INDEX] = "BAR4",
		[VFIO_PCI_BAR5_REGION_INDEX] = "BAR5",
		[VFIO_PCI_ROM_REGION_INDEX] = "ROM",
		[VFIO_PCI_CONFIG_REGION_INDEX] = "CONFIG",
		[VFIO_PCI_VGA_REGION_INDEX] = "VGA",
	};

	/* Indexes past VGA are device-specific, described by capabilities. */
	return index < ARRAY_SIZE(names) ? names[index] : "other";
}

/* Steps 6 and 7 need BAR0 and BAR2, with the access they make. */
static void need_region(const struct vfio_region_info *info, __u32 flags,
			const char *step)
{
	if (!info->size)
		fail(step, ENODEV);
	if ((info->flags & flags) != flags)
		fail(step, EOPNOTSUPP);
}

/* Step 4. */
static void show_regions(struct refmdev_vfio *rv)
{
	struct vfio_region_info info;
	char names[64];
	unsigned int i;
	int err;

	printf("\nRegions:\n");
	printf("  %-5s %-7s %-12s %-16s %s\n",
	       "index", "name", "size", "offset", "flags");
	for (i = 0; i < rv->info.num_regions; i++) {
		err = vfio_mdev_region_info(&rv->vm, i, &info);
		/* vfio-pci's way to say a fixed index is absent, e.g. VGA. */
		if (err == EINVAL) {
			printf("  %-5u %-7s not present\n", i, region_name(i));
			continue;
		}
		if (err)
			fail("VFIO_DEVICE_GET_REGION_INFO", err);

		printf("  %-5u %-7s 0x%-10llx 0x%-14llx %s\n", i,
		       region_name(i), (unsigned long long)info.size,
		       (unsigned long long)info.offset,
		       flag_names(names, sizeof(names), info.flags,
				  region_flag_names,
				  ARRAY_SIZE(region_flag_names)));

		if (i == REFMDEV_REGS_BAR)
			rv->bar0 = info;
		else if (i == REFMDEV_DEVMEM_BAR)
			rv->bar2 = info;
	}
}

static const char *irq_name(unsigned int index)
{
	static const char * const names[] = {
		[VFIO_PCI_INTX_IRQ_INDEX] = "INTx",
		[VFIO_PCI_MSI_IRQ_INDEX] = "MSI",
		[VFIO_PCI_MSIX_IRQ_INDEX] = "MSI-X",
		[VFIO_PCI_ERR_IRQ_INDEX] = "ERR",
		[VFIO_PCI_REQ_IRQ_INDEX] = "REQ",
	};

	return index < ARRAY_SIZE(names) ? names[index] : "other";
}

/* Step 5. A count of 0 means the device does not offer that index. */
static void show_irqs(const struct refmdev_vfio *rv)
{
	struct vfio_irq_info info;
	char names[64];
	unsigned int i;

	printf("\nIRQs:\n");
	printf("  %-5s %-7s %-5s %s\n", "index", "name", "count", "flags");
	for (i = 0; i < rv->info.num_irqs; i++) {
		memset(&info, 0, sizeof(info));
		info.argsz = sizeof(info);
		info.index = i;
		if (ioctl(rv->vm.device, VFIO_DEVICE_GET_IRQ_INFO, &info))
			fail("VFIO_DEVICE_GET_IRQ_INFO", errno);

		printf("  %-5u %-7s %-5u %s\n", i, irq_name(i), info.count,
		       flag_names(names, sizeof(names), info.flags,
				  irq_flag_names, ARRAY_SIZE(irq_flag_names)));
	}
}

/* Step 6. */
static void show_registers(const struct refmdev_vfio *rv)
{
	__u32 id, version;
	__u64 devmem_size;

	/* BAR0 is never mmappable: every register access is trapped. */
	need_region(&rv->bar0, VFIO_REGION_INFO_FLAG_READ |
		    VFIO_REGION_INFO_FLAG_WRITE, "BAR0 region");

	id = reg_read32(rv, REFMDEV_REG_ID, "read REFMDEV_REG_ID");
	version = reg_read32(rv, REFMDEV_REG_VERSION,
			     "read REFMDEV_REG_VERSION");
	devmem_size = reg_read64(rv, REFMDEV_REG_DEVMEM_SIZE,
				 "read REFMDEV_REG_DEVMEM_SIZE");

	printf("\nBAR0 registers:\n");
	field("ID", "0x%08x (%s)", id,
	      id == REFMDEV_ID_MAGIC ? "REFMDEV_ID_MAGIC" : "unexpected");
	field("VERSION", "%u.%u", version >> 16, version & 0xffff);
	field("DEVMEM_SIZE", "0x%llx (%llu KiB)",
	      (unsigned long long)devmem_size,
	      (unsigned long long)devmem_size / 1024);

	/* Whatever else answers here is no refmdev: stop before writing. */
	if (id != REFMDEV_ID_MAGIC)
		fail("REFMDEV_REG_ID is not REFMDEV_ID_MAGIC", ENODEV);
}

/*
 * Step 7. BAR2 is ordinary memory behind the mapping, and read()/write()
 * on the region reach the same pages, so both views must agree.
 */
static void test_devmem(const struct refmdev_vfio *rv)
{
	static __u32 pattern[DEVMEM_TEST_LEN / 4];
	static __u32 readback[DEVMEM_TEST_LEN / 4];
	size_t size = rv->bar2.size;
	unsigned int i;
	void *map;

	need_region(&rv->bar2, VFIO_REGION_INFO_FLAG_READ |
		    VFIO_REGION_INFO_FLAG_MMAP, "BAR2 region");
	if (size < DEVMEM_TEST_LEN)
		fail("BAR2 region", ENOSPC);

	/* The device refuses MAP_PRIVATE: a private copy is not the device. */
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   rv->vm.device, (off_t)rv->bar2.offset);
	if (map == MAP_FAILED)
		fail("mmap BAR2", errno);

	/*
	 * A different value in every word, none of them zero, so that a
	 * misplaced page or the fresh zeroed memory of a reset both show.
	 */
	for (i = 0; i < ARRAY_SIZE(pattern); i++)
		pattern[i] = (i + 1) * 0x9e3779b9u;
	memcpy(map, pattern, DEVMEM_TEST_LEN);

	region_read(rv, &rv->bar2, 0, readback, DEVMEM_TEST_LEN, "pread BAR2");
	if (memcmp(pattern, readback, DEVMEM_TEST_LEN))
		fail("BAR2 mmap/pread round trip", EIO);

	printf("\nDevice memory:\n");
	field("BAR2 mapping", "0x%zx bytes", size);
	printf("  BAR2 mmap/pread round trip: OK (%d bytes)\n",
	       DEVMEM_TEST_LEN);

	if (munmap(map, size))
		fail("munmap BAR2", errno);
}

/*
 * VFIO_DEVICE_SET_IRQS takes a header and then per-vector data whose type
 * the flags name. @efd >= 0 connects MSI vector 0 to that eventfd; -1
 * tears the index down (DATA_NONE with count 0).
 */
static void set_msi_trigger(const struct refmdev_vfio *rv, int efd,
			    const char *step)
{
	size_t argsz = sizeof(struct vfio_irq_set);
	struct vfio_irq_set *set;
	__s32 fd = efd;
	int ret, err;

	if (efd >= 0)
		argsz += sizeof(fd);
	set = calloc(1, argsz);
	if (!set)
		fail(step, ENOMEM);

	set->argsz = argsz;
	set->index = VFIO_PCI_MSI_IRQ_INDEX;
	set->start = 0;
	set->flags = VFIO_IRQ_SET_ACTION_TRIGGER;
	if (efd >= 0) {
		set->flags |= VFIO_IRQ_SET_DATA_EVENTFD;
		set->count = 1;
		/* data[] is a byte array: copy into it rather than cast it. */
		memcpy(set->data, &fd, sizeof(fd));
	} else {
		set->flags |= VFIO_IRQ_SET_DATA_NONE;
		set->count = 0;
	}

	ret = ioctl(rv->vm.device, VFIO_DEVICE_SET_IRQS, set);
	err = errno;
	free(set);
	if (ret)
		fail(step, err);
}

/* Step 8. */
static void test_msi(const struct refmdev_vfio *rv)
{
	struct pollfd pfd;
	__u64 count;
	__u32 status;
	ssize_t len;
	int efd, ret;

	efd = eventfd(0, EFD_CLOEXEC);
	if (efd < 0)
		fail("eventfd", errno);
	set_msi_trigger(rv, efd, "VFIO_DEVICE_SET_IRQS(MSI, eventfd)");

	/*
	 * A source interrupts when both its INT_STATUS and INT_MASK bits are
	 * set, and MSI fires on the edge into that state. Enable the source
	 * first so that raising it is the edge.
	 */
	reg_write32(rv, REFMDEV_REG_INT_MASK, REFMDEV_INT_SOFT,
		    "write REFMDEV_REG_INT_MASK");
	reg_write32(rv, REFMDEV_REG_INT_RAISE, REFMDEV_INT_SOFT,
		    "write REFMDEV_REG_INT_RAISE");

	pfd.fd = efd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	ret = poll(&pfd, 1, MSI_TIMEOUT_MS);
	if (ret < 0)
		fail("poll eventfd", errno);
	if (!ret)
		fail("wait for MSI", ETIMEDOUT);

	/* Reading returns the number of signals so far and resets it to 0. */
	len = read(efd, &count, sizeof(count));
	if (len < 0)
		fail("read eventfd", errno);
	if ((size_t)len != sizeof(count))
		fail("read eventfd", EIO);

	printf("\nInterrupt:\n");
	printf("  MSI delivered (eventfd count %llu)\n",
	       (unsigned long long)count);

	/* INT_STATUS is write-1-to-clear: write the bits to acknowledge. */
	status = reg_read32(rv, REFMDEV_REG_INT_STATUS,
			    "read REFMDEV_REG_INT_STATUS");
	field("INT_STATUS", "0x%08x", status);
	reg_write32(rv, REFMDEV_REG_INT_STATUS, REFMDEV_INT_SOFT,
		    "write REFMDEV_REG_INT_STATUS");
	status = reg_read32(rv, REFMDEV_REG_INT_STATUS,
			    "read REFMDEV_REG_INT_STATUS");
	field("INT_STATUS after clear", "0x%08x", status);
	if (status & REFMDEV_INT_SOFT)
		fail("clear REFMDEV_INT_SOFT", EIO);

	set_msi_trigger(rv, -1, "VFIO_DEVICE_SET_IRQS(MSI, disable)");
	field("MSI", "disabled");

	/* The device dropped its reference to the eventfd; ours goes now. */
	if (close(efd))
		fail("close eventfd", errno);
}

/*
 * Step 9. VFIO_DEVICE_RESET resets the function: registers return to
 * their power-on values (and BAR2 gets fresh zeroed memory) while config
 * space, and so memory decoding, is kept. SCRATCH makes it visible.
 */
static void test_reset(const struct refmdev_vfio *rv)
{
	__u32 before, after;

	if (!(rv->info.flags & VFIO_DEVICE_FLAGS_RESET))
		fail("VFIO_DEVICE_RESET", EOPNOTSUPP);

	reg_write32(rv, REFMDEV_REG_SCRATCH, SCRATCH_TEST_VALUE,
		    "write REFMDEV_REG_SCRATCH");
	before = reg_read32(rv, REFMDEV_REG_SCRATCH,
			    "read REFMDEV_REG_SCRATCH");
	if (before != SCRATCH_TEST_VALUE)
		fail("REFMDEV_REG_SCRATCH did not keep its value", EIO);

	if (ioctl(rv->vm.device, VFIO_DEVICE_RESET))
		fail("VFIO_DEVICE_RESET", errno);

	after = reg_read32(rv, REFMDEV_REG_SCRATCH,
			   "read REFMDEV_REG_SCRATCH");

	printf("\nReset:\n");
	field("SCRATCH before reset", "0x%08x", before);
	field("SCRATCH after reset", "0x%08x", after);
	if (after)
		fail("REFMDEV_REG_SCRATCH not cleared by reset", EIO);
}

/*
 * Step 10. vfio_mdev_close() closes in the reverse order of opening: the
 * device holds the group, and the group is what keeps the container's
 * IOMMU set up.
 */
static void close_device(struct refmdev_vfio *rv)
{
	int err = vfio_mdev_close(&rv->vm);

	if (err)
		fail(rv->vm.failed, err);
	printf("\nClosed device, group and container.\n");
}

int main(int argc, char **argv)
{
	struct refmdev_vfio rv;

	if (argc != 2) {
		fprintf(stderr, "usage: refmdev-info UUID\n");
		return EXIT_FAILURE;
	}

	memset(&rv, 0, sizeof(rv));
	open_device(&rv, argv[1]);
	show_device_info(&rv);
	show_identity(&rv);
	show_regions(&rv);
	show_irqs(&rv);
	show_registers(&rv);
	test_devmem(&rv);
	test_msi(&rv);
	test_reset(&rv);
	close_device(&rv);
	return EXIT_SUCCESS;
}
