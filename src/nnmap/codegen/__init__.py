"""C code generation: TVM-generated layer kernels, the network driver, weights, the artifact."""
