import SiphonCore
import SiphonAudio

/// A voice agent: what it says and how it hears, thinks and speaks.
///
///     let agent = Agent(name: "Receptionist", llm: OpenAI.LLM(), tts: Cartesia.TTS(), stt: Deepgram.STT(),
///                       instructions: "You are a helpful dental receptionist.")
public struct Agent: Sendable {
    public var name: String
    public var instructions: String
    /// Said first once the callee answers; nil lets the model open the conversation.
    public var greeting: String?
    /// Said after a takeover, before listening again; nil to stay silent.
    public var resumeLine: String?
    public var stt: any SpeechToText
    public var llm: any LanguageModel
    public var tts: any TextToSpeech {
        didSet { phrases = PhraseCache() }  // another voice: the lines it said are not this one's
    }
    /// The fixed lines as `tts` said them, shared by every call of this agent.
    public private(set) var phrases = PhraseCache()
    public var tools: [AgentTool]
    public var vad: VADConfiguration
    public var turn: TurnConfiguration
    public var temperature: Double?
    /// At most this many recent turns go to the model (the system prompt always does).
    public var contextWindow: Int
    /// Answering-machine detection on outbound calls (a job's `amd` replaces it); nil: off.
    public var amd: AMDSettings?

    /// Starts synthesising the greeting into `phrases` at `rate` while nothing needs it yet (an
    /// outbound call ringing): whoever answers hears it with no TTS round trip, the first call of a
    /// worker included. Does nothing if it is cached or on its way.
    public func warmGreeting(rate: Int) {
        if let greeting { phrases.warm(greeting, tts: tts, rate: rate) }
    }

    public init(name: String, llm: any LanguageModel, tts: any TextToSpeech, stt: any SpeechToText, instructions: String,
                greeting: String? = nil, resumeLine: String? = "Sorry about that, I'm back. Where were we?", tools: [AgentTool] = [],
                vad: VADConfiguration = VADConfiguration(), turn: TurnConfiguration = TurnConfiguration(),
                temperature: Double? = nil, contextWindow: Int = 40, amd: AMDSettings? = nil) {
        self.name = name
        self.llm = llm
        self.tts = tts
        self.stt = stt
        self.instructions = instructions
        self.greeting = greeting
        self.resumeLine = resumeLine
        self.tools = tools
        self.vad = vad
        self.turn = turn
        self.temperature = temperature
        self.contextWindow = contextWindow
        self.amd = amd
    }
}
