/// S3 both ways, knowing nothing of chunks or rings: a client for storage nodes (MinIO or any
/// S3-compatible server: SigV4 signing, streaming object I/O) and the pure cores of the S3 front
/// door (SigV4 verification, `aws-chunked` bodies, checksums, request addressing, XML, listing pages).
public enum S3 {}
