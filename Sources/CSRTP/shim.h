// Debian's libsrtp2-dev (2.5.0): SRTP and SRTCP for WebRTC media (RFC 3711, RFC 7714 GCM).
#include <srtp2/srtp.h>

static inline int siphon_SRTP_MAX_TRAILER_LEN(void) { return SRTP_MAX_TRAILER_LEN; }
