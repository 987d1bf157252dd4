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
}
