#ifndef SIPHON_CSPEEXDSP_SHIM_H
#define SIPHON_CSPEEXDSP_SHIM_H
// libspeexdsp's resampler: streaming, keeps filter state across calls.
#include <speex/speex_resampler.h>
#endif
