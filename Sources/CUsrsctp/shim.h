// Debian's libusrsctp-dev (0.9.5): SCTP over DTLS for WebRTC data channels (RFC 8831, RFC 8261).
// Its debug callback is variadic (Swift cannot define one): we pass none.
#include <stdint.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <usrsctp.h>

static inline int siphon_AF_CONN(void) { return AF_CONN; }
