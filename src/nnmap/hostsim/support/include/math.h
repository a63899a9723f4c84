/* nnmap host simulation: the freestanding build's <math.h>: the function nnmap's emulator C
 * uses (nnmap_hostsim_format.c). Integer artifacts include it without calling into it. */
#ifndef NNMAP_HOSTSIM_MATH_H
#define NNMAP_HOSTSIM_MATH_H

float nearbyintf(float value);

#endif
