// OpenBLAS through pkg-config `openblas`: the CBLAS interface plus openblas_set_num_threads.
#pragma once
#include <cblas.h>
