/// The knobs users tune per deployment (`vad:` in agent_config.yaml). Defaults suit a G.711 line.
public struct VADConfiguration: Sendable, Equatable, Codable {
    /// Speech probability at or above which a frame counts towards starting speech. Raise it on noisy
    /// lines (fewer false starts), lower it for quiet talkers. 0…1, default 0.5.
    public var activationThreshold: Double = 0.5
    /// Once speaking, frames stay speech until the probability falls below this (hysteresis, so the
    /// state does not chatter around one threshold). Must not exceed the activation threshold. Default 0.35.
    public var deactivationThreshold: Double = 0.35
    /// Speech must last this long before it is reported. Default 0.02 s (one frame): the detector
    /// already smooths, and barge-in applies its own minimum (`min_interruption`) on top.
    public var minSpeechDuration: Double = 0.02
    /// Silence must last this long before speech is reported ended (bridges the gaps inside words).
    /// Default 0.1 s. This is not the end of the caller's turn: endpointing waits for this plus the
    /// agent's endpointing delay, so keep it short and tune the turn with the endpointing delays.
    public var minSilenceDuration: Double = 0.1
    /// Audio kept from before the detected start and handed to STT with the speech (word onsets are
    /// quiet). Default 0.3 s.
    public var prefixPadding: Double = 0.3
    /// Frames quieter than this (dBFS) are never speech: digital silence, muted lines. Default −60.
    public var energyFloorDB: Double = -60
    /// Steady tones — keypad presses, beeps, ringback, busy and dial tone, fax CNG — are not speech
    /// (`ToneGuard`). Default on.
    public var toneGuard = true
    /// The noise floor rises with a noise that swells over seconds (a car, wind) instead of reading
    /// the swell as speech. Default on.
    public var followNoiseSwells = true

    public init() {}

    public init(activationThreshold: Double = 0.5, deactivationThreshold: Double = 0.35, minSpeechDuration: Double = 0.02,
                minSilenceDuration: Double = 0.1, prefixPadding: Double = 0.3, energyFloorDB: Double = -60,
                toneGuard: Bool = true, followNoiseSwells: Bool = true) {
        self.toneGuard = toneGuard
        self.followNoiseSwells = followNoiseSwells
        self.activationThreshold = activationThreshold
        self.deactivationThreshold = deactivationThreshold
        self.minSpeechDuration = minSpeechDuration
        self.minSilenceDuration = minSilenceDuration
        self.prefixPadding = prefixPadding
        self.energyFloorDB = energyFloorDB
    }

    /// Checks ranges; the error names the key.
    public func validate() throws -> [String] {
        var problems: [String] = []
        if !(0...1).contains(activationThreshold) { problems.append("activation_threshold must be between 0 and 1") }
        if !(0...1).contains(deactivationThreshold) { problems.append("deactivation_threshold must be between 0 and 1") }
        if deactivationThreshold > activationThreshold { problems.append("deactivation_threshold must not exceed activation_threshold") }
        if !(0...2).contains(minSpeechDuration) { problems.append("min_speech_duration must be between 0 and 2 seconds") }
        if !(0...5).contains(minSilenceDuration) { problems.append("min_silence_duration must be between 0 and 5 seconds") }
        if !(0...2).contains(prefixPadding) { problems.append("prefix_padding must be between 0 and 2 seconds") }
        if !(-120...0).contains(energyFloorDB) { problems.append("energy_floor_db must be between -120 and 0") }
        return problems
    }

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case activationThreshold = "activation_threshold", deactivationThreshold = "deactivation_threshold"
        case minSpeechDuration = "min_speech_duration", minSilenceDuration = "min_silence_duration"
        case prefixPadding = "prefix_padding", energyFloorDB = "energy_floor_db"
        case toneGuard = "tone_guard", followNoiseSwells = "follow_noise_swells"
    }
}
