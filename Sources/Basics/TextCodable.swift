/// A value that travels as one validated string: decoding refuses text the value's own parser
/// refuses, so an invalid id or version never gets past the JSON decoder.
public protocol TextCodable: Codable {
    /// The value named by `text`, or nil when `text` is not a valid spelling.
    init?(text: String)
    /// The canonical spelling.
    var text: String { get }
    /// What a valid spelling looks like, for the decoding error.
    static var textForm: String { get }
}

extension TextCodable {
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = Self(text: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "\"\(text.prefix(100))\" is not \(Self.textForm)"))
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(text)
    }
}
