import Foundation

/// `siphon bench capacity`'s picture: concurrent calls across, and stacked, the worker's CPU (% of
/// a core), resident memory per call and the p99 outbound inter-packet delta with the 25 ms line
/// a step must stay under. Plain SVG: operators size workers from it without any other tool.
struct CapacityChart {
    let title: String
    let steps: [BenchCapacityCommand.Step]

    func svg() -> String {
        let width = 720.0, panel = 170.0, left = 70.0, right = 40.0, top = 40.0, gap = 40.0
        let panels: [(String, (BenchCapacityCommand.Step) -> Double, Double?)] = [
            ("worker CPU, % of a core", \.cpuPercentOfCore, nil),
            ("resident memory per call, MB", \.rssMBPerCall, nil),
            ("outbound inter-packet delta p99, ms", \.deltaP99Ms, 25),
        ]
        let height = top + Double(panels.count) * (panel + gap) + 20
        let maxCalls = Double(steps.map(\.calls).max() ?? 1)
        func x(_ calls: Int) -> Double { left + (width - left - right) * Double(calls) / max(1, maxCalls) }
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"11\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"\(left)\" y=\"22\" font-size=\"14\">\(escape(title))</text>\n"
        for (i, (label, value, limit)) in panels.enumerated() {
            let y0 = top + Double(i) * (panel + gap), y1 = y0 + panel
            let peak = max(steps.map(value).max() ?? 1, limit.map { $0 * 1.2 } ?? 0, 0.001) * 1.1
            func y(_ v: Double) -> Double { y1 - panel * v / peak }
            s += "<text x=\"\(left)\" y=\"\(fmt(y0 - 6))\">\(escape(label))</text>\n"
            s += "<line x1=\"\(left)\" y1=\"\(fmt(y1))\" x2=\"\(fmt(width - right))\" y2=\"\(fmt(y1))\" stroke=\"#444\"/>\n"
            s += "<line x1=\"\(left)\" y1=\"\(fmt(y0))\" x2=\"\(left)\" y2=\"\(fmt(y1))\" stroke=\"#444\"/>\n"
            for k in 0...4 {
                let v = peak * Double(k) / 4
                s += "<text x=\"\(fmt(left - 6))\" y=\"\(fmt(y(v) + 4))\" text-anchor=\"end\">\(fmt(v))</text>\n"
            }
            if let limit {
                s += "<line x1=\"\(left)\" y1=\"\(fmt(y(limit)))\" x2=\"\(fmt(width - right))\" y2=\"\(fmt(y(limit)))\" stroke=\"#c00\" stroke-dasharray=\"4 3\"/>\n"
            }
            let points = steps.map { "\(fmt(x($0.calls))),\(fmt(y(value($0))))" }.joined(separator: " ")
            s += "<polyline fill=\"none\" stroke=\"#1f5fbf\" stroke-width=\"2\" points=\"\(points)\"/>\n"
            for st in steps {
                let colour = st.held ? "#1f5fbf" : "#c00"
                s += "<circle cx=\"\(fmt(x(st.calls)))\" cy=\"\(fmt(y(value(st))))\" r=\"3.5\" fill=\"\(colour)\"/>\n"
                s += "<text x=\"\(fmt(x(st.calls)))\" y=\"\(fmt(y1 + 14))\" text-anchor=\"middle\">\(st.calls)</text>\n"
            }
        }
        s += "<text x=\"\(fmt(width / 2))\" y=\"\(fmt(height - 4))\" text-anchor=\"middle\">concurrent calls (red: the step missed its clock)</text>\n"
        return s + "</svg>\n"
    }

    /// Axis labels: whole numbers as such, small values with the digits that tell ticks apart (0.05, 0.10, …).
    private func fmt(_ v: Double) -> String {
        String(format: v >= 100 || v == v.rounded() ? "%.0f" : v >= 1 ? "%.1f" : "%.2f", v)
    }
    private func escape(_ t: String) -> String {
        t.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
