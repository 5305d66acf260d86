import Foundation
import XMLCoder

extension S3 {
    /// Why an XML request body was refused (S3: `MalformedXML`).
    public struct MalformedXML: Error, Sendable, Equatable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// The body of CompleteMultipartUpload: the parts, as the client lists them.
    public struct CompleteMultipartUploadBody: Decodable, Sendable, Equatable {
        public struct Part: Decodable, Sendable, Equatable {
            public var partNumber: Int
            public var etag: String

            enum CodingKeys: String, CodingKey {
                case partNumber = "PartNumber"
                case etag = "ETag"
            }
        }

        public var parts: [Part]

        enum CodingKeys: String, CodingKey { case parts = "Part" }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            parts = try container.decodeIfPresent([Part].self, forKey: .parts) ?? []
        }
    }

    /// The body of DeleteObjects: the keys (and versions) to delete, and whether to answer quietly.
    public struct DeleteObjectsBody: Decodable, Sendable, Equatable {
        public struct Object: Decodable, Sendable, Equatable {
            public var key: String
            public var versionID: String?

            enum CodingKeys: String, CodingKey {
                case key = "Key"
                case versionID = "VersionId"
            }
        }

        public var objects: [Object]
        public var quiet: Bool

        enum CodingKeys: String, CodingKey {
            case objects = "Object"
            case quiet = "Quiet"
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            objects = try container.decodeIfPresent([Object].self, forKey: .objects) ?? []
            quiet = try container.decodeIfPresent(Bool.self, forKey: .quiet) ?? false
        }
    }

    /// Decodes an S3 request body with XMLCoder. Bodies with a document type (`<!DOCTYPE`,
    /// `<!ENTITY`) are refused before any parsing: S3 bodies have none, and entities are how XML
    /// bombs and external lookups get in.
    public static func decodeXMLBody<Body: Decodable>(_ type: Body.Type, from data: [UInt8]) throws(MalformedXML) -> Body {
        let lowered = data.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }
        for marker in ["<!doctype", "<!entity"] where lowered.firstRange(of: Array(marker.utf8)) != nil {
            throw MalformedXML(message: "The XML you provided was not well-formed or did not validate against our published schema (no document types or entities)")
        }
        guard String(validating: data, as: UTF8.self) != nil else {
            throw MalformedXML(message: "The XML you provided is not UTF-8")
        }
        let decoder = XMLDecoder()
        decoder.shouldProcessNamespaces = true
        decoder.trimValueWhitespaces = false
        do {
            return try decoder.decode(Body.self, from: Data(data))
        } catch {
            throw MalformedXML(message: "The XML you provided was not well-formed or did not validate against our published schema")
        }
    }
}
