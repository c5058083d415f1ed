#include "tap.h"
#include "lade/toml.h"
#include "lade/util.h"
int main(void) { return tap_done(); }
