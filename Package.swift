// swift-tools-version:6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "siphon",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "siphon", targets: ["siphon"]),
        .library(name: "SiphonCore", targets: ["SiphonCore"]),
        .library(name: "SiphonRedis", targets: ["SiphonRedis"]),
        .library(name: "SiphonCluster", targets: ["SiphonCluster"]),
        .library(name: "SiphonAudio", targets: ["SiphonAudio"]),
        .library(name: "SiphonLiveKit", targets: ["SiphonLiveKit"]),
        .library(name: "Siphon", targets: ["Siphon"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "5.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.0"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        // Only for `siphon bench media`: preloaded to count allocations, never linked into siphon.
        .package(url: "https://github.com/ordo-one/malloc-interposer.git", from: "1.6.0"),
    ],
    targets: [
        // System libraries (Debian packages named in `providers`).
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis", providers: [.apt(["libhiredis-dev"])]),
        .systemLibrary(name: "COpus", pkgConfig: "opus", providers: [.apt(["libopus-dev"])]),
        .systemLibrary(name: "CSpeexDSP", pkgConfig: "speexdsp", providers: [.apt(["libspeexdsp-dev"])]),
        .systemLibrary(name: "CPocketSphinx", pkgConfig: "pocketsphinx", providers: [.apt(["libpocketsphinx-dev", "pocketsphinx-en-us"])]),
        .systemLibrary(name: "CEspeakNG", providers: [.apt(["libespeak-ng-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CSRTP", pkgConfig: "libsrtp2", providers: [.apt(["libsrtp2-dev"])]),
        .systemLibrary(name: "CUsrsctp", pkgConfig: "usrsctp", providers: [.apt(["libusrsctp-dev"])]),

        .target(
            name: "SiphonCore",
            dependencies: [.product(name: "Logging", package: "swift-log"), .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict),
        .target(
            name: "SiphonRedis",
            dependencies: [
                "CHiredis", "SiphonCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .target(
            name: "SiphonAudio",
            dependencies: ["SiphonCore", "COpus", "CSpeexDSP"],
            swiftSettings: strict),
        .target(
            name: "SiphonSIP",
            dependencies: [
                "SiphonCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strict),
        .target(
            name: "SiphonRTP",
            dependencies: [
                "SiphonCore", "SiphonAudio", "CSRTP",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict),
        // LiveKit's signalling and agent protocols, generated once by scripts/generate-protos.sh.
        .target(
            name: "LiveKitProtocol",
            dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        .target(
            name: "SiphonWebRTC",
            dependencies: [
                "SiphonCore", "SiphonAudio", "SiphonRTP", "COpenSSL", "CSRTP", "CUsrsctp",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict),
        .target(
            name: "SiphonAgent",
            dependencies: [
                "SiphonCore", "SiphonAudio",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strict),
        .target(
            name: "SiphonOffline",
            dependencies: ["SiphonCore", "SiphonAudio", "SiphonAgent", "CEspeakNG", "CPocketSphinx"],
            swiftSettings: strict),
        .target(
            name: "SiphonCluster",
            dependencies: [
                "SiphonCore", "SiphonRedis",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            // The operator console, compiled into the binary: no files to ship, no build step.
            resources: [.embedInCode("Console/index.html"), .embedInCode("Console/console.js"), .embedInCode("Console/console.css")],
            swiftSettings: strict),
        .target(
            name: "SiphonProviderKit",
            dependencies: [
                "SiphonCore", "SiphonAudio", "SiphonAgent", "SiphonRedis",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict),
        .target(
            name: "SiphonOpenAI",
            dependencies: ["SiphonCore", "SiphonAudio", "SiphonAgent", "SiphonProviderKit", .product(name: "NIOFoundationCompat", package: "swift-nio")],
            swiftSettings: strict),
        .target(
            name: "SiphonDeepgram",
            dependencies: ["SiphonCore", "SiphonAudio", "SiphonAgent", "SiphonProviderKit", .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "NIOHTTP1", package: "swift-nio")],
            swiftSettings: strict),
        .target(
            name: "SiphonCartesia",
            dependencies: ["SiphonCore", "SiphonAudio", "SiphonAgent", "SiphonProviderKit"],
            swiftSettings: strict),
        .target(
            name: "SiphonElevenLabs",
            dependencies: ["SiphonCore", "SiphonAudio", "SiphonAgent", "SiphonProviderKit"],
            swiftSettings: strict),
        .target(
            name: "SiphonAnthropic",
            dependencies: ["SiphonCore", "SiphonAgent", "SiphonProviderKit"],
            swiftSettings: strict),
        .target(
            name: "SiphonLiveKit",
            dependencies: [
                "SiphonCore", "SiphonRedis", "SiphonCluster", "SiphonProviderKit", "LiveKitProtocol",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .target(
            name: "SiphonTelephony",
            dependencies: [
                "SiphonCore", "SiphonAudio", "SiphonSIP", "SiphonRTP", "SiphonAgent", "SiphonCluster", "SiphonWebRTC", "SiphonLiveKit", "LiveKitProtocol",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict),
        .target(
            name: "Siphon",
            dependencies: [
                "SiphonCore", "SiphonRedis", "SiphonCluster", "SiphonAgent", "SiphonTelephony", "SiphonLiveKit", "SiphonRTP",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict),
        .executableTarget(
            name: "siphon",
            dependencies: [
                "Siphon",
                "SiphonCore", "SiphonRedis", "SiphonCluster", "SiphonAudio", "SiphonSIP", "SiphonRTP", "SiphonAgent", "SiphonWebRTC",
                "SiphonOffline", "SiphonTelephony", "SiphonLiveKit", "SiphonProviderKit", "SiphonOpenAI", "SiphonAnthropic", "SiphonDeepgram", "SiphonCartesia", "SiphonElevenLabs",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict),

        .testTarget(name: "SiphonCoreTests", dependencies: ["SiphonCore"], swiftSettings: strict),
        .testTarget(name: "SiphonRedisTests", dependencies: ["SiphonRedis", "CHiredis"], swiftSettings: strict),
        .testTarget(name: "SiphonAudioTests", dependencies: ["SiphonAudio"], swiftSettings: strict),
        .testTarget(name: "SiphonSIPTests", dependencies: ["SiphonSIP", "SiphonRTP", "SiphonAudio"], swiftSettings: strict),
        .testTarget(name: "SiphonOfflineTests", dependencies: ["SiphonOffline", "SiphonAgent", "SiphonAudio", .product(name: "Yams", package: "Yams")], swiftSettings: strict),
        .testTarget(name: "SiphonProviderKitTests", dependencies: ["SiphonProviderKit", "SiphonAudio"], swiftSettings: strict),
        .testTarget(name: "SiphonWebRTCTests", dependencies: ["SiphonWebRTC", "SiphonRTP", "SiphonAudio", "SiphonCore",
                                                             .product(name: "NIOPosix", package: "swift-nio")], swiftSettings: strict),
        .testTarget(name: "SiphonAgentTests", dependencies: ["SiphonAgent", "SiphonAudio", "SiphonCore"], swiftSettings: strict),
        .testTarget(name: "SiphonClusterTests", dependencies: ["SiphonCluster", "SiphonCore"], swiftSettings: strict),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["Siphon", "SiphonCore", "SiphonRedis", "SiphonCluster", "SiphonAudio", "SiphonSIP", "SiphonRTP", "SiphonAgent", "SiphonOffline", "SiphonLiveKit", "SiphonProviderKit", "SiphonOpenAI", "SiphonAnthropic", "SiphonDeepgram", "SiphonCartesia", "SiphonElevenLabs", "SiphonWebRTC", "SiphonTelephony"],
            swiftSettings: strict),
    ]
)
