#pragma once
#include <string>

#include "dips/options.h"
#include "dips/status.h"

namespace dips {

// Parses argv into *options. On error the message says what is wrong and to see --help.
Status parse_options(int argc, const char* const* argv, Options* options);

// The --help text.
std::string help_text();

// The --list-ops table: name, parameter, default, range, tiling, description.
std::string list_ops_text();

}  // namespace dips
