#ifndef SIPHON_CHIREDIS_SHIM_H
#define SIPHON_CHIREDIS_SHIM_H
// Debian bookworm ships hiredis 0.14.1 (RESP2, no TLS). Swift cannot call the variadic
// redisCommand, so Siphon only uses the binary-safe Argv entry points.
#include <hiredis/hiredis.h>
#endif
