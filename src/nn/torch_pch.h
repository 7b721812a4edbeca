// Precompiled header for the libtorch translation units (see CMakeLists.txt).
#pragma once
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <ATen/Parallel.h>
