import COpenSSL
import Foundation

/// The self-signed ECDSA P-256 certificate a peer connection presents in DTLS, and its SHA-256
/// fingerprint for `a=fingerprint` (RFC 8122). One per process, like a browser's per origin:
/// generating it is a few milliseconds we need not spend per call.
public final class DTLSCertificate: @unchecked Sendable {
    // Immutable after init; OpenSSL's objects are only read (reference-counted by SSL_CTX).
    let key: OpaquePointer
    let x509: OpaquePointer
    /// `AB:CD:…`, upper-case hex.
    public let fingerprint: String

    public static let shared: DTLSCertificate = {
        do { return try DTLSCertificate() } catch { fatalError("cannot create the DTLS certificate: \(error)") }
    }()

    public init(commonName: String = "siphon") throws {
        guard let key = siphon_EC_P256_generate() else { throw DTLSCertificate.error("EC key generation") }
        guard let x509 = X509_new() else { EVP_PKEY_free(key); throw DTLSCertificate.error("X509_new") }
        X509_set_version(x509, 2)
        ASN1_INTEGER_set(X509_get_serialNumber(x509), Int.random(in: 1...Int(Int32.max)))
        X509_gmtime_adj(X509_getm_notBefore(x509), -86_400)
        X509_gmtime_adj(X509_getm_notAfter(x509), 30 * 86_400)
        X509_set_pubkey(x509, key)
        let name = X509_get_subject_name(x509)
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, commonName, -1, -1, 0)
        X509_set_issuer_name(x509, name)
        guard X509_sign(x509, key, EVP_sha256()) > 0 else {
            X509_free(x509)
            EVP_PKEY_free(key)
            throw DTLSCertificate.error("X509_sign")
        }
        self.key = key
        self.x509 = x509
        fingerprint = DTLSCertificate.sha256Fingerprint(x509)
    }

    deinit {
        X509_free(x509)
        EVP_PKEY_free(key)
    }

    static func sha256Fingerprint(_ cert: OpaquePointer) -> String {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        X509_digest(cert, EVP_sha256(), &digest, &length)
        return digest.prefix(Int(length)).map { String(format: "%02X", $0) }.joined(separator: ":")
    }

    static func error(_ what: String) -> WebRTCError {
        WebRTCError(.library, "\(what) failed: \(DTLSCertificate.openSSLErrors())")
    }

    /// Drains OpenSSL's error queue into text.
    static func openSSLErrors() -> String {
        var out: [String] = []
        while case let code = ERR_get_error(), code != 0 {
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            out.append(String(cString: buffer))
            if out.count > 8 { break }
        }
        return out.isEmpty ? "no detail" : out.joined(separator: "; ")
    }
}
