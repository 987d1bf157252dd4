extension Duration {
    /// Whole milliseconds, rounded down (timeouts, headers such as X-Twirp-Timeout-Ms).
    public var wholeMilliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }

    /// Seconds as a fraction (figures, metrics).
    public var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
