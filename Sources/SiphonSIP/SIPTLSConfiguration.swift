import Foundation
import NIOSSL
import SiphonCore

/// SIP over TLS (RFC 3261 26.3.1, RFC 5630): the certificate this side presents when a trunk
/// connects to it, and whom it trusts when it connects to a trunk. Carriers' secure trunks
/// (Twilio, Telnyx) listen on 5061 with certificates from public authorities, so the system's
/// roots are the default; a private PBX's authority can be named instead.
public struct SIPTLSConfiguration: Sendable {
    /// PEM certificate chain and key for the listener; without them no TLS port is opened
    /// (outbound TLS still works).
    public var certificateChainPath: String?
    public var privateKeyPath: String?
    /// PEM file of authorities to trust instead of the system's.
    public var trustRootsPath: String?
    /// The TLS listener's port; 0 picks a free one.
    public var port: Int

    public init(certificateChainPath: String? = nil, privateKeyPath: String? = nil, trustRootsPath: String? = nil, port: Int = 5061) {
        (self.certificateChainPath, self.privateKeyPath, self.trustRootsPath, self.port) = (certificateChainPath, privateKeyPath, trustRootsPath, port)
    }

    public var listens: Bool { certificateChainPath != nil && privateKeyPath != nil }

    /// Loads the files as start-up will (for preflight): a bad path, PEM or key fails here.
    public func validate() throws {
        _ = try clientContext()
        _ = try serverContext()
    }

    /// The peer's certificate is verified, and so is its name: the trunk's host name (SNI), or
    /// its address when the trunk is given as an IP.
    func clientContext() throws -> NIOSSLContext {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        tls.certificateVerification = .fullVerification
        if let trustRootsPath { tls.trustRoots = .file(trustRootsPath) }
        do {
            return try NIOSSLContext(configuration: tls)
        } catch {
            throw SiphonError(.configuration, "SIP TLS: the trust roots \(trustRootsPath ?? "(system)") could not be loaded: \(error)")
        }
    }

    func serverContext() throws -> NIOSSLContext? {
        guard let certificateChainPath, let privateKeyPath else { return nil }
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(certificateChainPath).map { NIOSSLCertificateSource.certificate($0) }
            // PEM whatever the file is called (NIOSSL would read a `.key` file as DER), else DER.
            let key = try (try? NIOSSLPrivateKey(file: privateKeyPath, format: .pem)) ?? NIOSSLPrivateKey(file: privateKeyPath, format: .der)
            var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
            tls.minimumTLSVersion = .tlsv12
            return try NIOSSLContext(configuration: tls)
        } catch {
            throw SiphonError(.configuration, "SIP TLS: the certificate \(certificateChainPath) or key could not be loaded: \(error)")
        }
    }
}
