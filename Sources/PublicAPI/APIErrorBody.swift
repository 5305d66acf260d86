/// Every error answer: `{"error": {"code", "message"}}` (DESIGN.md §10).
public struct APIErrorBody: Codable, Equatable, Sendable {
    public struct Detail: Codable, Equatable, Sendable {
        /// snake_case, stable: clients branch on it.
        public var code: String
        public var message: String
    }

    public var error: Detail

    public init(code: String, message: String) { error = Detail(code: code, message: message) }
}
