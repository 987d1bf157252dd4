import Foundation

/// A throwaway certificate authority and a certificate it signed for 127.0.0.1 (openssl, once per
/// test process): what SIP over TLS tests present and trust.
enum TestCertificates {
    struct Leaf: Sendable {
        let certificate: String
        let key: String
    }

    /// The authority's certificate (PEM): trust it and the leaf verifies, by its IP address.
    static var authority: String { made.authority }
    static var loopback: Leaf { made.leaf }

    private static let made: (authority: String, leaf: Leaf) = {
        do {
            let dir = try Repository.temporaryDirectory("tls")
            let p = { (name: String) in dir.appendingPathComponent(name).path }
            try openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Siphon test CA",
                         "-keyout", p("ca.key"), "-out", p("ca.pem")])
            try openssl(["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", p("leaf.key"), "-out", p("leaf.csr")])
            try "subjectAltName=IP:127.0.0.1\n".write(toFile: p("san.ext"), atomically: true, encoding: .utf8)
            try openssl(["x509", "-req", "-in", p("leaf.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"), "-CAcreateserial",
                         "-days", "2", "-extfile", p("san.ext"), "-out", p("leaf.pem")])
            return (p("ca.pem"), Leaf(certificate: p("leaf.pem"), key: p("leaf.key")))
        } catch {
            fatalError("test certificates: \(error)")
        }
    }()

    private static func openssl(_ args: [String]) throws { try Repository.run("/usr/bin/openssl", args) }
}
