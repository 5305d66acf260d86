/// An S3 client for storage nodes (MinIO or any S3-compatible server): SigV4 signing and
/// streaming object I/O. It knows nothing of chunks or rings.
public enum S3 {}
