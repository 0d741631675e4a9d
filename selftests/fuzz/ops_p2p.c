// SPDX-License-Identifier: GPL-2.0
/*
 * dma-bufs and P2P windows: export with random ranges, udmabufs (an
 * exporter not our own), close, dup, pass
 * to the next worker over a unix socket (the fd may sit in the socket
 * while its sender is killed), attach to and detach from windows.
 */
#include <linux/udmabuf.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "p2p_util.h"

/* Under p->lock for writing. Keeps @fd if there is room, else closes it. */
int fz_dmabuf_store(struct fz_proc *p, int fd)
{
	off_t size = lseek(fd, 0, SEEK_END);
	int i;

	for (i = 0; i < FZ_DMABUFS; i++) {
		if (p->buf[i].fd >= 0)
			continue;
		p->buf[i].fd = fd;
		p->buf[i].size = size > 0 ? (__u64)size : FZ_PAGE;
		return FZ_DONE;
	}
	close(fd);
	return FZ_DONE;
}

static struct fz_dmabuf *pick_dmabuf(struct fz_thread *t)
{
	int first = fz_below(&t->rng, FZ_DMABUFS), i;

	for (i = 0; i < FZ_DMABUFS; i++) {
		struct fz_dmabuf *b = &t->p->buf[(first + i) % FZ_DMABUFS];

		if (b->fd >= 0)
			return b;
	}
	return NULL;
}

int fz_op_export(struct fz_thread *t)
{
	struct fz_rng *r = &t->rng;
	struct vfio_region_dma_range ranges[4];
	__u32 n = fz_chance(r, 70) ? 1 : fz_below(r, 5);
	__u32 region = fz_chance(r, 95) ? REFMDEV_DEVMEM_BAR : fz_below(r, 10);
	__u32 open_flags = fz_chance(r, 95) ? O_RDWR | O_CLOEXEC : fz_next(r);
	__u32 flags = fz_chance(r, 95) ? 0 : fz_next(r);
	int delta = fz_chance(r, 95) ? 0 : (int)fz_below(r, 64) - 32;
	struct fz_dev *d;
	__u32 i;
	int fd;

	for (i = 0; i < ARRAY_SIZE(ranges); i++) {
		if (fz_chance(r, 85)) {
			__u64 first = fz_below(r, 256);

			ranges[i].offset = first * FZ_PAGE;
			ranges[i].length = (fz_below(r, 256 - first) + 1) * FZ_PAGE;
		} else {
			ranges[i].offset = fz_size(r, 1u << 20);
			ranges[i].length = fz_size(r, 1u << 20);
		}
	}
	if (n > ARRAY_SIZE(ranges))
		n = ARRAY_SIZE(ranges);
	pthread_rwlock_wrlock(&t->p->lock);
	d = fz_pick_dev(t);
	if (!d) {
		pthread_rwlock_unlock(&t->p->lock);
		return FZ_SKIPPED;
	}
	fd = dmabuf_export_raw(&d->v, region, open_flags, flags, ranges, n,
			       delta);
	if (fd >= 0)
		fd = fz_dmabuf_store(t->p, fd);
	pthread_rwlock_unlock(&t->p->lock);
	return fd;
}

/* A udmabuf over a fresh memfd, for windows onto foreign memory. */
int fz_op_udmabuf(struct fz_thread *t)
{
	struct udmabuf_create create = { .flags = UDMABUF_FLAGS_CLOEXEC };
	__u64 size = (fz_below(&t->rng, 64) + 1) * FZ_PAGE;
	int dev, memfd, fd;

	dev = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return FZ_SKIPPED;
	memfd = memfd_create("fuzz", MFD_ALLOW_SEALING | MFD_CLOEXEC);
	fd = memfd < 0 ? -errno : 0;
	if (!fd && (ftruncate(memfd, size) ||
		    fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK)))
		fd = -errno;
	if (!fd) {
		create.memfd = memfd;
		create.size = size;
		fd = ioctl(dev, UDMABUF_CREATE, &create);
		if (fd < 0)
			fd = -errno;
	}
	if (memfd >= 0)
		close(memfd);
	close(dev);
	if (fd < 0)
		return fd;
	pthread_rwlock_wrlock(&t->p->lock);
	fz_dmabuf_store(t->p, fd);
	pthread_rwlock_unlock(&t->p->lock);
	return FZ_DONE;
}

int fz_op_dmabuf_close(struct fz_thread *t)
{
	struct fz_dmabuf *b;

	pthread_rwlock_wrlock(&t->p->lock);
	b = pick_dmabuf(t);
	if (b) {
		close(b->fd);
		b->fd = -1;
	}
	pthread_rwlock_unlock(&t->p->lock);
	return b ? FZ_DONE : FZ_SKIPPED;
}

int fz_op_dmabuf_dup(struct fz_thread *t)
{
	struct fz_dmabuf *b;
	int ret = FZ_SKIPPED;

	pthread_rwlock_wrlock(&t->p->lock);
	b = pick_dmabuf(t);
	if (b) {
		int fd = fcntl(b->fd, F_DUPFD_CLOEXEC, 0);

		ret = fd < 0 ? -errno : fz_dmabuf_store(t->p, fd);
	}
	pthread_rwlock_unlock(&t->p->lock);
	return ret;
}

int fz_op_dmabuf_send(struct fz_thread *t)
{
	char data = 'd', control[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = &data, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = control, .msg_controllen = sizeof(control),
	};
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
	struct fz_dmabuf *b;
	int ret = FZ_SKIPPED;

	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	pthread_rwlock_rdlock(&t->p->lock);
	b = pick_dmabuf(t);
	if (b) {
		memcpy(CMSG_DATA(cmsg), &b->fd, sizeof(int));
		ret = sendmsg(t->p->sock_next, &msg, MSG_DONTWAIT) < 0 ? -errno : 0;
	}
	pthread_rwlock_unlock(&t->p->lock);
	return ret;
}

int fz_op_dmabuf_recv(struct fz_thread *t)
{
	char data, control[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &data, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = control, .msg_controllen = sizeof(control),
	};
	struct cmsghdr *cmsg;
	int fd, ret;

	pthread_rwlock_wrlock(&t->p->lock);
	ret = recvmsg(t->p->sock_prev, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (ret < 0) {
		ret = -errno;
		goto out;
	}
	ret = FZ_DONE;
	cmsg = CMSG_FIRSTHDR(&msg);
	if (cmsg && cmsg->cmsg_type == SCM_RIGHTS) {
		memcpy(&fd, CMSG_DATA(cmsg), sizeof(fd));
		fz_dmabuf_store(t->p, fd);
	}
out:
	pthread_rwlock_unlock(&t->p->lock);
	return ret;
}

int fz_op_window_attach(struct fz_thread *t)
{
	struct fz_rng *r = &t->rng;
	__u32 index = fz_chance(r, 90) ? fz_below(r, REFMDEV_P2P_WINDOWS) :
					 fz_below(r, 64);
	struct refmdev_p2p_window w = {
		.argsz = fz_chance(r, 95) ? sizeof(w) : fz_size(r, sizeof(w)),
		.flags = fz_chance(r, 95) ? 0 : fz_next(r),
		.index = index,
		.iova = FZ_WINDOW_IOVA + (index % REFMDEV_P2P_WINDOWS) * FZ_WINDOW_SPAN,
	};
	struct fz_dmabuf *b;
	struct fz_dev *d;
	int ret;

	if (fz_chance(r, 10)) {
		w.iova = fz_size(r, FZ_WINDOW_IOVA);
		if (w.iova >= FZ_VERIFY_IOVA - (64u << 20) &&
		    w.iova < FZ_VERIFY_IOVA + FZ_VERIFY_SIZE)
			w.iova = 0;
	}
	pthread_rwlock_rdlock(&t->p->lock);
	d = fz_pick_dev(t);
	b = pick_dmabuf(t);
	if (!d) {
		pthread_rwlock_unlock(&t->p->lock);
		return FZ_SKIPPED;
	}
	/* Not a dma-buf at all, now and then: the device's own fd. */
	w.dmabuf_fd = b && fz_chance(r, 95) ? b->fd : d->v.device;
	ret = ioctl(d->v.device, REFMDEV_P2P_WINDOW_ATTACH, &w) ? -errno : 0;
	pthread_rwlock_unlock(&t->p->lock);
	return ret;
}

int fz_op_window_detach(struct fz_thread *t)
{
	__u32 index = fz_below(&t->rng, REFMDEV_P2P_WINDOWS + 1);
	struct fz_dev *d;
	int ret;

	pthread_rwlock_rdlock(&t->p->lock);
	d = fz_pick_dev(t);
	ret = d ? window_detach_raw(&d->v, index) : FZ_SKIPPED;
	pthread_rwlock_unlock(&t->p->lock);
	return ret;
}
