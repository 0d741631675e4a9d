/* SPDX-License-Identifier: GPL-2.0 */
/*
 * QEMU's edu device (1234:11e8) on vfio-pci: the real, IOMMU-backed
 * device the type1 tests put into a container next to a refmdev, to see
 * what type1 does when a member is not an mdev.
 */
#ifndef EDU_UTIL_H
#define EDU_UTIL_H

/*
 * Bind edu to vfio-pci through driver_override, taking it from any other
 * driver first; undone when the test ends. Skips the test if there is no
 * edu, no vfio-pci or no IOMMU group. Returns edu's IOMMU group number,
 * and its PCI address in @bdf if @bdf is not NULL.
 */
int edu_to_vfio_pci(const char **bdf);

/* Open /dev/vfio/@number, which must be viable; fails the test if not. */
int vfio_group_open(int number);

#endif /* EDU_UTIL_H */
