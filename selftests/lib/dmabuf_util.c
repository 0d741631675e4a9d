// SPDX-License-Identifier: GPL-2.0
/*
 * dma-buf test helpers; see dmabuf_util.h.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dmabuf_util.h"
#include "ktap.h"
#include "mdev_util.h"

void bufinfo_ensure(void)
{
	if (!access(BUFINFO_PATH, R_OK))
		return;
	debugfs_ensure();
	if (access(BUFINFO_PATH, R_OK))
		FAIL("%s: %s", BUFINFO_PATH, strerror(errno));
}

/* The whole file: seq_file sizes are unknown until read. */
static char *read_all(const char *path)
{
	size_t len = 0, cap = 16384;
	char *buf = malloc(cap);
	ssize_t n;
	int fd;

	if (!buf)
		FAIL("out of memory");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		FAIL("open %s: %s", path, strerror(errno));
	for (;;) {
		if (cap - len < 4096) {
			cap *= 2;
			buf = realloc(buf, cap);
			if (!buf)
				FAIL("out of memory");
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0)
			FAIL("read %s: %s", path, strerror(errno));
		if (!n)
			break;
		len += n;
	}
	close(fd);
	buf[len] = '\0';
	return buf;
}

static bool entry_matches(const struct bufinfo_entry *e, unsigned long ino,
			  const char *name)
{
	return (!ino || e->ino == ino) && (!name || !strcmp(e->name, name));
}

/*
 * The format is dma_buf_debug_show()'s: a line per dma-buf (size, file
 * flags, mode, count, exporter, inode, name), its fences, then
 * "\tAttached Devices:", one "\t<device>" line per attachment and
 * "Total N devices attached".
 */
int bufinfo_find(unsigned long ino, const char *name, struct bufinfo_entry *e)
{
	struct bufinfo_entry cur = { 0 };
	bool in_obj = false, in_devs = false;
	char *buf, *line, *save;
	int matches = 0, n;

	bufinfo_ensure();
	buf = read_all(BUFINFO_PATH);
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		struct bufinfo_entry next = { 0 };

		if (sscanf(line, "%llu %x %x %ld %63s %lu %127[^\n]",
			   &next.size, &next.f_flags, &next.f_mode, &next.count,
			   next.exp_name, &next.ino, next.name) == 7) {
			cur = next;
			in_obj = true;
			in_devs = false;
		} else if (in_obj && !strcmp(line, "\tAttached Devices:")) {
			in_devs = true;
		} else if (in_obj &&
			   sscanf(line, "Total %d devices attached", &n) == 1) {
			cur.attached = n;
			in_obj = false;
			in_devs = false;
			if (entry_matches(&cur, ino, name) && !matches++ && e)
				*e = cur;
		} else if (in_devs && line[0] == '\t') {
			size_t used = strlen(cur.devices);

			snprintf(cur.devices + used, sizeof(cur.devices) - used,
				 "%s%s", used ? " " : "", line + 1);
		}
	}
	free(buf);
	return matches;
}

void bufinfo_of_fd(int fd, struct bufinfo_entry *e)
{
	struct stat st;
	int n;

	if (fstat(fd, &st))
		FAIL("fstat dma-buf %d: %s", fd, strerror(errno));
	n = bufinfo_find(st.st_ino, NULL, e);
	if (n != 1)
		FAIL("%d entries for inode %lu in %s", n,
		     (unsigned long)st.st_ino, BUFINFO_PATH);
}

int fd_count(void)
{
	struct dirent *de;
	int n = 0;
	DIR *dir;

	dir = opendir("/proc/self/fd");
	if (!dir)
		FAIL("/proc/self/fd: %s", strerror(errno));
	while ((de = readdir(dir)))
		n += de->d_name[0] != '.';
	closedir(dir);
	/* The directory stream's own descriptor is not ours. */
	return n - 1;
}

int lowest_free_fd(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		FAIL("open /dev/null: %s", strerror(errno));
	close(fd);
	return fd;
}

struct mapping {
	void *addr;
	size_t len;
};

static void munmap_deferred(void *arg)
{
	struct mapping *m = arg;

	munmap(m->addr, m->len);
	free(m);
}

void *mmap_defer(size_t len, int prot, int flags, int fd, off_t off)
{
	struct mapping *m = malloc(sizeof(*m));

	if (!m)
		FAIL("out of memory");
	m->len = len;
	m->addr = mmap(NULL, len, prot, flags, fd, off);
	if (m->addr == MAP_FAILED)
		FAIL("mmap fd %d len 0x%zx offset 0x%llx: %s", fd, len,
		     (unsigned long long)off, strerror(errno));
	ktap_defer(munmap_deferred, m);
	return m->addr;
}
