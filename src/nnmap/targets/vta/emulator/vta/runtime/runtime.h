/* The header generated kernels include for VTA, at the path of VTA's own runtime header
 * (vta/runtime/runtime.h): in an artifact's emulator flavour (-Iemulator) it is nnmap's emulation
 * of that API; the device flavour finds VTA's real header there instead. */
#ifndef NNMAP_VTA_RUNTIME_PATH_H
#define NNMAP_VTA_RUNTIME_PATH_H

#include "vta_runtime.h"

#endif
