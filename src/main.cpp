#include "dips/app.h"

int main(int argc, char** argv) { return dips::dips_main(argc, argv); }
