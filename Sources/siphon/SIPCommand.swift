import ArgumentParser
import Foundation
import SiphonCore
import SiphonSIP
import SiphonTelephony

struct SIPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sip", abstract: "SIP tools.", subcommands: [Probe.self])

    struct Probe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send OPTIONS (and REGISTER) to a trunk and report the reply.",
            discussion: "Exit status 0 when the trunk answered (and, with --register, accepted the credentials).")

        @OptionGroup var common: CommonOptions
        @Option(help: "A configured trunk: 'default' (SIP_TRUNK_ADDRESS, SIP_USERNAME, SIP_PASSWORD), or 'registration' (the registrar and address-of-record SIP_REGISTER uses).") var trunk: String?
        @Option(help: "The trunk's host[:port], instead of a configured one.") var address: String?
        @Option(help: "udp, tcp or tls (with --address; tls trusts $SIP_TLS_CA, else the system's authorities).") var transport: String = "udp"
        @Option(help: "Digest username (with --address).") var username: String?
        @Option(help: "Environment variable holding the digest password (with --address).") var passwordEnv: String?
        @Flag(help: "Also REGISTER with the credentials (then unregister).") var register = false
        @Option(help: "Address the trunk should answer to (default: $SIPHON_PUBLIC_IP, else this host's first IPv4).") var sipHost: String?
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let env = try common.environment()
            let logger = common.bootstrapLogging(env, label: "siphon.sip")
            let result = try await reporting { () -> TrunkProbe.Result in
                let host = sipHost ?? env["SIPHON_PUBLIC_IP"] ?? HostAddress.primaryIPv4() ?? "127.0.0.1"
                var probe: TrunkProbe
                if trunk == "registration", address == nil {
                    guard let r = try TelephonyConfiguration.registration(env) else {
                        throw SiphonError(.configuration, "--trunk registration: SIP_REGISTER is not on")
                    }
                    let spec = TrunkSpec(address: r.registrar, transport: r.transport.rawValue.lowercased(), username: r.credentials?.username,
                                         password: r.credentials?.password)
                    probe = TrunkProbe(trunk: spec, advertisedHost: host)
                    probe.aor = SIPURI(user: r.user, host: try r.domain ?? TrunkSpec.hostPort(r.registrar).host)
                } else {
                    let spec = try Self.trunk(name: trunk, address: address, transport: transport, username: username, passwordEnv: passwordEnv, env: env)
                    probe = TrunkProbe(trunk: spec, advertisedHost: host)
                }
                probe.tls.trustRootsPath = env["SIP_TLS_CA"]
                return try await probe.run(register: register, logger: logger)
            }
            if json {
                printJSON(result)
            } else {
                print("OPTIONS \(result.address) (\(result.transport)): \(result.optionsStatus) \(result.optionsReason)" +
                      (result.reachable ? " in \(result.roundTripMs) ms" : " (unreachable)"))
                if let s = result.server { print("  server: \(s)") }
                if let a = result.allow { print("  allow: \(a)") }
                if let r = result.registered {
                    print(r ? "REGISTER: accepted, expires \(result.registerExpires ?? 0) s (unregistered again)"
                            : "REGISTER: failed: \(result.registerError ?? "")")
                }
            }
            if !result.ok { throw ExitCode(1) }
        }

        static func trunk(name: String?, address: String?, transport: String, username: String?, passwordEnv: String?, env: Environment) throws -> TrunkSpec {
            switch (name, address) {
            case (nil, nil), (.some, .some):
                throw SiphonError.invalid("give --trunk default or --address HOST[:PORT]")
            case (let name?, nil):
                guard name == "default" else { throw SiphonError(.configuration, "unknown trunk '\(name)': the configured ones are 'default' and 'registration'") }
                guard let spec = try TelephonyConfiguration.from(env).defaultTrunk else {
                    throw SiphonError(.configuration, "no default trunk: set SIP_TRUNK_ADDRESS (and SIP_USERNAME, SIP_PASSWORD)")
                }
                return spec
            case (nil, let address?):
                var password: String?
                if let passwordEnv {
                    guard let p = env[passwordEnv] else { throw SiphonError(.configuration, "\(passwordEnv) is not set") }
                    password = p
                }
                return TrunkSpec(address: address, transport: transport, username: username, password: password)
            }
        }
    }
}
