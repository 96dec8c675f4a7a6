#include "dips/status.h"
