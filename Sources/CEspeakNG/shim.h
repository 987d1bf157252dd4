#ifndef SIPHON_CESPEAKNG_SHIM_H
#define SIPHON_CESPEAKNG_SHIM_H
// eSpeak NG's classic API in synchronous mode: espeak_Synth calls the synth callback with PCM
// (22.05 kHz, 16-bit) before it returns. The library keeps global state: callers serialise.
#include <espeak-ng/speak_lib.h>
#endif
