/* The header nnmap's generated network.c and kernels include for VTA: VTA's public runtime API
 * (and, on the host, nnmap's emulator extensions). */
#ifndef NNMAP_VTA_H
#define NNMAP_VTA_H

#include "vta_runtime.h"

#endif
