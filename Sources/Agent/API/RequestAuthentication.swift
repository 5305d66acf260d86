import HTTPTypes
import Hummingbird

extension AgentContext {
    /// Who is asking: Bearer or Basic credentials, or the web session cookie (with its CSRF
    /// token for anything but reads). 401 or 403 otherwise.
    func principal(_ request: Request) async throws -> Principal {
        try await accounts.authenticate(
            authorization: request.headers[.authorization], cookie: request.cookies[Accounts.sessionCookie]?.value,
            method: request.method.rawValue, csrf: request.headers[HTTPField.Name("X-CSRF-Token")!]
        )
    }
}
