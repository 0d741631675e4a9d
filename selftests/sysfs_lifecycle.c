// SPDX-License-Identifier: GPL-2.0
/*
 * Creating and removing refmdev devices through sysfs, as the mdev
 * documentation describes it, and every way of getting that wrong.
 */
#include <limits.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ktap.h"
#include "mdev_util.h"

/* Every test runs on type1 and, where the kernel has it, iommufd. */
KTAP_BACKENDS(KTAP_BOTH);

static long budget_mib(void)
{
	return sysfs_read_long("/sys/module/refmdev/parameters/devmem_budget_mib");
}

static void assert_available(long used_mib)
{
	ASSERT_EQ(mdev_available(TYPE_1M), budget_mib() - used_mib);
	ASSERT_EQ(mdev_available(TYPE_16M), (budget_mib() - used_mib) / 16);
}

static int count_mdevs(void)
{
	char cmd[] = "ls " MDEV_DEVICES " | wc -l";
	FILE *f = popen(cmd, "r");
	int n = -1;

	if (!f || fscanf(f, "%d", &n) != 1)
		FAIL("cannot count mdevs");
	pclose(f);
	return n;
}

static void type_attr(const char *type, const char *attr, char *buf,
		      size_t len)
{
	char path[PATH_MAX];
	int ret;

	snprintf(path, sizeof(path), REFMDEV_TYPES "/%s/%s", type, attr);
	ret = sysfs_read(path, buf, len);
	if (ret)
		FAIL("read %s: %s", path, strerror(-ret));
}

TEST(parent_offers_two_types)
{
	ASSERT_TRUE(path_exists(REFMDEV_PARENT));
	ASSERT_TRUE(path_exists(REFMDEV_TYPES "/" TYPE_1M));
	ASSERT_TRUE(path_exists(REFMDEV_TYPES "/" TYPE_16M));
	ASSERT_EQ(system("test $(ls " REFMDEV_TYPES " | wc -l) -eq 2"), 0);
}

TEST(type_attributes)
{
	char buf[256];

	type_attr(TYPE_1M, "name", buf, sizeof(buf));
	ASSERT_EQ(strcmp(buf, "refmdev, 1 MiB device memory"), 0);
	type_attr(TYPE_16M, "name", buf, sizeof(buf));
	ASSERT_EQ(strcmp(buf, "refmdev, 16 MiB device memory"), 0);
	type_attr(TYPE_1M, "device_api", buf, sizeof(buf));
	ASSERT_EQ(strcmp(buf, "vfio-pci"), 0);
	type_attr(TYPE_16M, "device_api", buf, sizeof(buf));
	ASSERT_EQ(strcmp(buf, "vfio-pci"), 0);
	type_attr(TYPE_16M, "description", buf, sizeof(buf));
	ASSERT_TRUE(strstr(buf, "16 MiB"));
	assert_available(0);
}

TEST(create_and_remove)
{
	char uuid[UUID_LEN + 1], path[PATH_MAX], link[PATH_MAX];
	ssize_t n;

	make_uuid(uuid);
	ASSERT_EQ(mdev_create_raw(TYPE_1M, uuid), 0);
	snprintf(path, sizeof(path), MDEV_DEVICES "/%s/mdev_type", uuid);
	n = readlink(path, link, sizeof(link) - 1);
	ASSERT_TRUE(n > 0);
	link[n] = '\0';
	ASSERT_TRUE(strstr(link, "/" TYPE_1M));
	ASSERT_TRUE(mdev_group_number(uuid) >= 0);
	assert_available(1);

	ASSERT_EQ(mdev_remove(uuid), 0);
	snprintf(path, sizeof(path), MDEV_DEVICES "/%s", uuid);
	ASSERT_TRUE(!path_exists(path));
	assert_available(0);
}

TEST(available_instances_follow_the_budget)
{
	long n16 = mdev_available(TYPE_16M), i;
	char uuid[UUID_LEN + 1];

	ASSERT_TRUE(n16 > 0);
	for (i = 0; i < n16; i++)
		mdev_create(TYPE_16M);
	assert_available(16 * n16);
	ASSERT_EQ(mdev_available(TYPE_16M), 0);

	/* The type is full: the write fails and creates nothing. */
	make_uuid(uuid);
	ASSERT_EQ(mdev_create_raw(TYPE_16M, uuid), -EUSERS);
	ASSERT_EQ(count_mdevs(), n16);
	if (mdev_available(TYPE_1M) == 0)
		ASSERT_EQ(mdev_create_raw(TYPE_1M, uuid), -EUSERS);
}

TEST(create_rejects_malformed_uuids)
{
	static const char * const bad[] = {
		"\n",		/* empty: a zero-byte write never reaches sysfs */
		"not-a-uuid",
		"12345678-1234-1234-1234-1234567890a",		/* short */
		/* 37 characters pass as UUID + newline; 38 cannot. */
		"12345678-1234-1234-1234-1234567890abcd",	/* long */
		"1234567g-1234-1234-1234-1234567890ab",		/* not hex */
		"12345678_1234-1234-1234-1234567890ab",		/* separator */
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		int ret = mdev_create_raw(TYPE_1M, bad[i]);

		if (ret != -EINVAL)
			FAIL("'%s': got %s, expected EINVAL", bad[i],
			     strerror(-ret));
	}
	ASSERT_EQ(count_mdevs(), 0);
	assert_available(0);
}

TEST(create_rejects_duplicate_uuids)
{
	const char *uuid = mdev_create(TYPE_1M);
	char upper[UUID_LEN + 1];
	unsigned int i;

	ASSERT_EQ(mdev_create_raw(TYPE_1M, uuid), -EEXIST);
	ASSERT_EQ(mdev_create_raw(TYPE_16M, uuid), -EEXIST);
	/* UUIDs compare as numbers, not strings. */
	for (i = 0; i <= UUID_LEN; i++)
		upper[i] = (uuid[i] >= 'a' && uuid[i] <= 'f') ?
			   uuid[i] - 'a' + 'A' : uuid[i];
	ASSERT_EQ(mdev_create_raw(TYPE_1M, upper), -EEXIST);
	ASSERT_EQ(count_mdevs(), 1);
	assert_available(1);
}

TEST(uuid_reusable_after_remove)
{
	char uuid[UUID_LEN + 1];

	make_uuid(uuid);
	ASSERT_EQ(mdev_create_raw(TYPE_16M, uuid), 0);
	ASSERT_EQ(mdev_remove(uuid), 0);
	ASSERT_EQ(mdev_create_raw(TYPE_1M, uuid), 0);
	ASSERT_EQ(mdev_remove(uuid), 0);
	assert_available(0);
}

TEST(remove_rejects_bad_values)
{
	const char *uuid = mdev_create(TYPE_1M);
	char path[PATH_MAX];

	snprintf(path, sizeof(path), MDEV_DEVICES "/%s/remove", uuid);
	ASSERT_EQ(sysfs_write(path, "yes"), -EINVAL);
	/* "0" is a valid request not to remove. */
	ASSERT_EQ(sysfs_write(path, "0"), 0);
	ASSERT_TRUE(path_exists(path));
	ASSERT_EQ(mdev_remove(uuid), 0);
	ASSERT_EQ(mdev_remove(uuid), -ENOENT);
}

/*
 * Remove in a child: the write blocks while the device is open. The child
 * drops every inherited descriptor first; a copy of the device fd would
 * keep the device open and make it wait for itself.
 */
static pid_t remove_in_child(const char *uuid)
{
	pid_t pid = fork();
	int fd;

	if (pid < 0)
		FAIL("fork: %s", strerror(errno));
	if (!pid) {
		for (fd = 3; fd < 1024; fd++)
			close(fd);
		_exit(mdev_remove(uuid) ? 1 : 0);
	}
	return pid;
}

/* Removal has not finished while the budget is still taken. */
static void assert_removal_pending(pid_t pid)
{
	ASSERT_EQ(waitpid(pid, NULL, WNOHANG), 0);
	assert_available(1);
}

static int wait_child(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		FAIL("waitpid: %s", strerror(errno));
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(remove_of_open_device_requests_release)
{
	char uuid[UUID_LEN + 1], path[PATH_MAX];
	struct vfio_dev d;
	int efd = new_eventfd();
	pid_t pid;

	make_uuid(uuid);
	ASSERT_EQ(mdev_create_raw(TYPE_1M, uuid), 0);
	ASSERT_EQ(vfio_open_raw(uuid, &d), 0);
	ASSERT_OK(irq_set_eventfd(&d, VFIO_PCI_REQ_IRQ_INDEX, efd));

	pid = remove_in_child(uuid);
	/* The VFIO core asks through the request eventfd... */
	ASSERT_TRUE(eventfd_wait(efd, 20000) >= 1);
	/* ...and removal waits until the user lets go. */
	assert_removal_pending(pid);
	vfio_close(&d);
	snprintf(path, sizeof(path), MDEV_DEVICES "/%s", uuid);
	ASSERT_EQ(wait_child(pid), 0);
	ASSERT_TRUE(!path_exists(path));
	assert_available(0);
}

TEST(remove_of_open_device_without_request_eventfd_waits)
{
	char uuid[UUID_LEN + 1], path[PATH_MAX];
	struct vfio_dev d;
	pid_t pid;

	make_uuid(uuid);
	ASSERT_EQ(mdev_create_raw(TYPE_1M, uuid), 0);
	ASSERT_EQ(vfio_open_raw(uuid, &d), 0);
	pid = remove_in_child(uuid);
	sleep(1);
	assert_removal_pending(pid);
	vfio_close(&d);
	snprintf(path, sizeof(path), MDEV_DEVICES "/%s", uuid);
	ASSERT_EQ(wait_child(pid), 0);
	ASSERT_TRUE(!path_exists(path));
}
