// Helpers shared by the cluster sources (not part of the public API).
#pragma once
#include "sbert/matrix.h"

namespace sbert::detail {

// Rows divided by max(||row||, 1e-12), as torch.nn.functional.normalize does.
Matrix normalized_rows(const Matrix& x);

}  // namespace sbert::detail
