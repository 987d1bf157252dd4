public enum SiphonVersion {
    public static let current = "0.1.0"
}
