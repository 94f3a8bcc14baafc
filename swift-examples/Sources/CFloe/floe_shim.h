/* The generated header, from the repository's include/ directory. */
#include "../../../include/floe.h"
