#pragma once

// Torch tests include this instead of <catch2/catch.hpp>: torch pulls in
// glog, whose CHECK/CHECK_EQ/... macros would silently replace Catch's (a
// failing check would abort instead of being reported). Torch first, glog's
// macros removed, then Catch.

#include <torch/script.h>
#include <torch/torch.h>

#undef CHECK
#undef CHECK_EQ
#undef CHECK_NE
#undef CHECK_LT
#undef CHECK_LE
#undef CHECK_GT
#undef CHECK_GE
#undef CHECK_NOTNULL

#include <catch2/catch.hpp>
