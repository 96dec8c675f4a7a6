#pragma once
#include "dips/wire.h"

namespace dips {

// Does one piece of work; never throws: every failure becomes result.error.
ResultMessage execute_work(const WorkMessage& work);

}  // namespace dips
