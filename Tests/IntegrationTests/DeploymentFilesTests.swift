import Foundation
import Testing

/// docker-compose.yml against the Compose Specification schema, the Kubernetes manifests against the
/// Kubernetes schemas, Siphon's own rules (health checks, AOF, replicas, no secrets in files) —
/// and proof that the checker catches each kind of mistake.
@Suite(.serialized)
struct DeploymentFilesTests {
    static let files = ["docker-compose.yml", "deploy/compose.direct-sip.yml", "deploy/livekit.yaml", "deploy/sip.yaml",
                        "Tests/Fixtures/compose-spec.json"]

    func validate(_ root: URL) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Repository.python)
        p.arguments = [Repository.root.appendingPathComponent("scripts/validate-deploy.py").path, root.path]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// A copy of the deployment files with `edit` applied to one of them.
    func copy(editing file: String, _ edit: (String) -> String) throws -> URL {
        let dir = try Repository.temporaryDirectory("deploy")
        let fm = FileManager.default
        for f in Self.files + (try fm.contentsOfDirectory(atPath: Repository.root.appendingPathComponent("deploy/k8s").path).map { "deploy/k8s/\($0)" }) {
            let target = dir.appendingPathComponent(f)
            try fm.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            var text = try String(contentsOf: Repository.root.appendingPathComponent(f), encoding: .utf8)
            if f == file { text = edit(text) }
            try text.write(to: target, atomically: true, encoding: .utf8)
        }
        return dir
    }

    @Test func theShippedFilesAreValid() throws {
        let (status, output) = try validate(Repository.root)
        #expect(status == 0, "\(output)")
    }

    @Test func eachKindOfMistakeIsCaught() throws {
        let cases: [(String, (String) -> String, String)] = [
            ("docker-compose.yml", { $0.replacingOccurrences(of: "  worker:\n", with: "  worker:\n    restarts: always\n") }, "restarts"),
            ("docker-compose.yml", { $0.replacingOccurrences(of: "      replicas: 2                  # docker compose up --scale worker=N\n", with: "") }, "deploy.replicas"),
            ("docker-compose.yml", { $0.replacingOccurrences(of: "\"--appendonly\", \"yes\", ", with: "") }, "AOF"),
            ("deploy/sip.yaml", { $0 + "api_secret: hunter2\n" }, "api_secret"),
            ("deploy/k8s/supervisor.yaml", { $0.replacingOccurrences(of: "replicas: 2", with: "replicas: two") }, "kubernetes"),
            ("deploy/k8s/worker.yaml", { $0.replacingOccurrences(of: "terminationGracePeriodSeconds", with: "terminationGraceSeconds") }, "kubernetes"),
        ]
        for (file, edit, expected) in cases {
            let (status, output) = try validate(try copy(editing: file, edit))
            #expect(status == 1 && output.contains(expected), "\(file): expected a problem naming '\(expected)', got: \(output)")
        }
    }

    /// The image can run the binary: every shared library `siphon` links (readelf's NEEDED) comes
    /// from a package the runtime stage installs, one they depend on, or the slim base image; the
    /// Swift libraries are linked statically there, but Foundation's networking still needs curl.
    /// And the build stage installs each system library Package.swift names. (The image once lacked
    /// OpenSSL, libsrtp2 and usrsctp, which WebRTC brought: nothing checked it.)
    @Test func theImageHasEveryLibraryTheBinaryLinks() throws {
        let dockerfile = try String(contentsOf: Repository.root.appendingPathComponent("Dockerfile"), encoding: .utf8)
        let stages = dockerfile.components(separatedBy: "\nFROM ")
        try #require(stages.count == 3, "a build and a runtime stage")
        func packages(_ stage: String) -> Set<String> {
            let install = stage.components(separatedBy: "--no-install-recommends").dropFirst().first?.components(separatedBy: "&&").first ?? ""
            return Set(install.split(whereSeparator: { $0 == " " || $0 == "\\" || $0.isNewline }).map(String.init).filter { !$0.isEmpty })
        }
        let (build, runtime) = (packages(stages[1]), packages(stages[2]))
        let base: Set<String> = ["libc6", "libstdc++6", "libgcc-s1", "zlib1g"]  // debian:bookworm-slim
        var provided = runtime.union(base)
        for p in runtime {  // what apt pulls in with them (installed here, as in the image)
            let depends = try Repository.run("/usr/bin/dpkg-query", ["-W", "-f=${Depends}", p])
            for d in depends.split(separator: ",") { provided.insert(String(d.trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "")) }
        }
        let dynamic = try Repository.run("/usr/bin/readelf", ["-d", SiphonProcess.binary])
        var missing: [String] = []
        for line in dynamic.split(separator: "\n") where line.contains("(NEEDED)") {
            guard let library = line.firstMatch(of: /\[(.+)\]/)?.1 else { continue }
            if library.hasPrefix("libswift") || library.hasPrefix("libFoundation") || ["libdispatch.so", "libBlocksRuntime.so"].contains(library) {
                if library == "libFoundationNetworking.so", !runtime.contains("libcurl4") { missing.append("libcurl4 (for FoundationNetworking)") }
                continue
            }
            let owner = try Repository.run("/usr/bin/dpkg", ["-S", "*/\(library)"])
            let package = String(owner.split(separator: ":").first ?? "")
            if !provided.contains(package) { missing.append("\(package) (\(library))") }
        }
        #expect(missing.isEmpty, "the runtime image lacks: \(missing)")
        let manifest = try String(contentsOf: Repository.root.appendingPathComponent("Package.swift"), encoding: .utf8)
        let needed = manifest.matches(of: /\.apt\(\["([^"]+)"/).map { String($0.1) }
        #expect(needed.count >= 6 && needed.allSatisfy(build.contains), "the build stage lacks: \(needed.filter { !build.contains($0) })")
    }
}
