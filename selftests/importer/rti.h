/* SPDX-License-Identifier: GPL-2.0 */
/* What the test importer's files share; see importer.c. */
#ifndef RTI_H
#define RTI_H

#include <linux/compiler_types.h>

/* plain_exporter.c: REFMDEV_TI_EXPORT_PLAIN; the new dma-buf's fd. */
long rti_export_plain(void __user *argp);

#endif /* RTI_H */
