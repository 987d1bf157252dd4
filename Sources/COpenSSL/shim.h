// Debian's libssl-dev (OpenSSL 3.0), for DTLS-SRTP only (TLS elsewhere is swift-nio-ssl's
// prefixed BoringSSL, so the symbols do not collide). Swift imports no function-like macros and
// cannot call variadic functions: these wrappers exist for that reason alone.
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ec.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

static inline long siphon_SSL_set_mtu(SSL *ssl, long mtu) { return SSL_set_mtu(ssl, mtu); }
static inline long siphon_DTLSv1_get_timeout(SSL *ssl, struct timeval *tv) { return DTLSv1_get_timeout(ssl, tv); }
static inline long siphon_DTLSv1_handle_timeout(SSL *ssl) { return DTLSv1_handle_timeout(ssl); }
static inline int siphon_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int v) { return (int)SSL_CTX_set_min_proto_version(ctx, v); }
static inline int siphon_SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int v) { return (int)SSL_CTX_set_max_proto_version(ctx, v); }
static inline int siphon_SSL_CTX_set1_groups_list(SSL_CTX *ctx, const char *list) { return (int)SSL_CTX_set1_groups_list(ctx, list); }
static inline long siphon_BIO_set_mem_eof_return(BIO *b, long v) { return BIO_set_mem_eof_return(b, v); }
static inline EVP_PKEY *siphon_EC_P256_generate(void) { return EVP_EC_gen("P-256"); }
static inline int siphon_DTLS1_2_VERSION(void) { return DTLS1_2_VERSION; }
static inline int siphon_BIO_TYPE_SOURCE_SINK(void) { return BIO_TYPE_SOURCE_SINK; }
static inline int siphon_BIO_CTRL_FLUSH(void) { return BIO_CTRL_FLUSH; }
static inline int siphon_BIO_CTRL_DGRAM_QUERY_MTU(void) { return BIO_CTRL_DGRAM_QUERY_MTU; }
static inline int siphon_BIO_CTRL_WPENDING(void) { return BIO_CTRL_WPENDING; }
static inline int siphon_BIO_CTRL_PENDING(void) { return BIO_CTRL_PENDING; }
static inline uint64_t siphon_DTLS_OPTIONS(void) { return SSL_OP_NO_QUERY_MTU | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION; }
static inline int siphon_SSL_VERIFY_PEER_REQUIRED(void) { return SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT; }
