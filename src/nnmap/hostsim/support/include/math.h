/* nnmap host simulation: the freestanding build has no C library. Integer artifacts include
 * <math.h> without calling into it; a float function used anyway fails to link, by name. */
#ifndef NNMAP_HOSTSIM_MATH_H
#define NNMAP_HOSTSIM_MATH_H
#endif
