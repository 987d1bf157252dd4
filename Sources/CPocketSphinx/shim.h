#ifndef SIPHON_CPOCKETSPHINX_SHIM_H
#define SIPHON_CPOCKETSPHINX_SHIM_H
#include <pocketsphinx.h>

// cmd_ln_init is variadic; build the configuration from an argv array instead and create the
// decoder in one call. `grammar` (a JSGF file) replaces the statistical language model when given.
// `cmn` is the cepstral mean normalisation mode ("live" adapts across a call's utterances).
static inline ps_decoder_t *siphon_ps_create(const char *hmm, const char *dict, const char *lm, const char *grammar, const char *cmn) {
    const char *argv[] = {
        "-hmm", hmm, "-dict", dict, grammar ? "-jsgf" : "-lm", grammar ? grammar : lm,
        "-logfn", "/dev/null", "-samprate", "16000", "-bestpath", "no", "-cmn", cmn,
    };
    cmd_ln_t *config = cmd_ln_parse_r(NULL, ps_args(), (int32)(sizeof(argv) / sizeof(argv[0])), (char **)argv, TRUE);
    if (config == NULL) return NULL;
    ps_decoder_t *ps = ps_init(config);
    cmd_ln_free_r(config);
    return ps;
}
#endif
