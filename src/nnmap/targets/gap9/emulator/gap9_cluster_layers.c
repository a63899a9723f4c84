/* The cluster module's layer markers: a layer's cycles start with the offload's overhead. */
#include "gap9_cluster_params.h"
#include "pmsis.h"

void nnmap_cluster_layer_begin(const char *name) {
    nnmap_gap9_layer_begin(name);
    nnmap_gap9_advance(NNMAP_GAP9_CLUSTER_LAYER_OVERHEAD);
}

void nnmap_cluster_layer_end(void) { nnmap_gap9_layer_end(); }
