// dry_run: names are printed so that no file name can forge a line or drive the terminal.
#include <catch2/catch.hpp>
#include <string>

#include "dips/dry_run.h"

using dips::printable_name;

TEST_CASE("printable_name escapes control characters, backslashes and bytes that are not UTF-8", "[dry_run]") {
  CHECK(printable_name("in/Image 1 (Panda).png") == "in/Image 1 (Panda).png");
  CHECK(printable_name("caf\xc3\xa9 \xf0\x9f\x90\xbc.png") == "caf\xc3\xa9 \xf0\x9f\x90\xbc.png");  // UTF-8 stays readable
  CHECK(printable_name("two\nlines\t.png") == "two\\nlines\\t.png");
  CHECK(printable_name("\x1b[2Jclear\r.png") == "\\x1b[2Jclear\\r.png");
  CHECK(printable_name("back\\slash") == "back\\\\slash");
  CHECK(printable_name("latin1_\xe9.png") == "latin1_\\xe9.png");
  CHECK(printable_name("csi\xc2\x9b" "2J") == "csi\\xc2\\x9b2J");           // a C1 control in UTF-8
  CHECK(printable_name("overlong\xc0\xaf") == "overlong\\xc0\\xaf");
  CHECK(printable_name("surrogate\xed\xa0\x80") == "surrogate\\xed\\xa0\\x80");
  CHECK(printable_name("del\x7f") == "del\\x7f");
}
